"""A throw-away embedded PostGIS for one benchmark run: a temporary SDI_HOME, migrated, destroyed after."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import psycopg

from sdi.core.catalogue import migrate
from sdi.core.cluster import Cluster
from sdi.core.settings import Settings


@contextlib.contextmanager
def scratch_postgis(prefix: str):
    """Yields (temporary folder, SDI_HOME, database URL)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.chmod(tmp, 0o755)  # the embedded server runs as postgres when we are root
        home = Path(tmp) / "home"
        cluster = Cluster(Settings(home=home))
        try:
            url = cluster.start().url()
            with psycopg.connect(url) as conn:
                migrate(conn)
            yield Path(tmp), home, url
        finally:
            cluster.destroy()
