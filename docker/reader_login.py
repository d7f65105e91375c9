"""Give the API's reader login the password in SDI_READER_PASSWORD, so that several API nodes share one.

`sdi serve` without SDI_READER_DATABASE_URL renews the reader's password at every start, which would log
the other nodes out. The nodes of docker/compose.yaml share one reader URL instead: this one-shot step
(its `init` service, after `sdi init`) creates the reader with sdi's own grants and settings
(`sdi.core.roles.ensure_reader`), then sets the password the nodes' URL carries. Run it again after
changing SDI_READER_PASSWORD; the nodes then need a restart.

    SDI_DATABASE_URL=postgresql://sdi:...@db/sdi SDI_READER_PASSWORD=... .venv/bin/python docker/reader_login.py
"""

from __future__ import annotations

import os
import sys

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from sdi.core import roles
from sdi.core.catalogue import open_catalogue
from sdi.core.db import database_url


def main() -> int:
    password = os.environ.get("SDI_READER_PASSWORD", "")
    if len(password) < 16:
        print(
            "SDI_READER_PASSWORD is missing or shorter than 16 characters: set it (e.g. openssl rand -hex 24)",
            file=sys.stderr,
        )
        return 2
    with open_catalogue() as conn:
        role = conninfo_to_dict(roles.ensure_reader(conn, database_url()))["user"]
        # Where sdi's admin functions exist (an embedded-style cluster) the owner is no CREATEROLE and sets it
        # through them; the compose file's owner is the image's POSTGRES_USER, a superuser, and sets it directly.
        if conn.execute("SELECT to_regprocedure('sdi_admin.reader_login(text)') IS NOT NULL").fetchone()[0]:
            conn.execute("SELECT sdi_admin.reader_login(%s)", [password])
        else:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        conn.commit()
    print(f"the reader login {role} has the password of SDI_READER_PASSWORD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
