"""The discovery service: pycsw (CSW 2.0.2/3.0, ISO application profile, INSPIRE discovery) at /csw.

pycsw 2.6.2 cannot share the project's environment (it pins OWSLib<0.29, and its SQLAlchemy calls fail on
SQLAlchemy 2.x), so `make setup` gives it a virtual environment of its own, .venv-csw, and `sdi serve` runs
it there under gunicorn as a process of its own, behind the front, as the API's OS user, connected as the
API's read-only login. Its repository is the table csw.records in PostGIS (migration 0007).

At every start and whenever the catalogue changes, `refresh` (in the serve parent, as the owner) writes
what this service and nginx serve: the ISO 19139 record of every public data set (sdi.server.records),
the DCAT catalogue, the bulk downloads (sdi.server.downloads: stale files are queued for its writer thread,
and only files that exist are distributed) and the Atom feed (sdi.server.atom), then
loads the records into csw.records through pycsw's own parser (sdi/server/csw_load.py, run in .venv-csw).
Restricted themes are left out at the source (sdi.server.datasets), so none of these can name them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from sdi.core.catalogue import open_catalogue
from sdi.core.db import database_url, scalar
from sdi.core.settings import Settings
from sdi.server import atom, datasets, dcat, downloads, host_user, records, service_records, wms
from sdi.server.services import Service, ServiceContext

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent


def csw_python(settings: Settings) -> Path:
    """The Python of pycsw's own venv (SDI_CSW_VENV, else .venv-csw in the project folder)."""
    return Path(os.environ.get("SDI_CSW_VENV") or PROJECT / ".venv-csw") / "bin" / "python"


def service(ctx: ServiceContext) -> Service | None:
    """pycsw behind /csw, plus the records, downloads and feeds nginx serves itself; None without .venv-csw."""
    python = csw_python(ctx.settings)
    if not python.exists():
        logger.error("the catalogue (/csw) and bulk downloads are off: %s is missing. Fix: run `make setup`", python)
        return None
    settings, base = ctx.settings, records.public_url(ctx.settings, ctx.public_url)
    folder = settings.home_abs / "csw"
    folder.mkdir(parents=True, exist_ok=True)
    _grant_reader(settings, ctx.reader_url)
    view = wms._qgis_server_installed()  # the WMS (view service) gets a record only where it runs
    refresh(settings, base, view)
    config = _write_config(folder, base)
    socket = ctx.run_dir / "csw.sock"
    served = {"metadata": metadata_folder(settings), "downloads": downloads.folder(settings)}
    if ctx.user:  # nginx's and pycsw's workers run as the API's user: they must read what they serve
        host_user.open_to(ctx.user, folder, served["downloads"])
        host_user.open_to(ctx.user, served["metadata"], served["downloads"])
    nginx = "\n".join(
        [
            f"        location = /csw {{ proxy_pass http://unix:{socket}:/csw; {_PROXY} }}",
            f"        location /metadata/ {{ alias {served['metadata']}/; default_type application/xml; }}",
            # the feeds by their own media types (INSPIRE's Atom download service; OpenSearch), not as any XML
            *(
                f"        location = /metadata/{name} {{ alias {served['metadata']}/{name}; types {{ }}"
                f" default_type {kind}; }}"
                for name, kind in (
                    ("atom.xml", "application/atom+xml"),
                    ("opensearch.xml", "application/opensearchdescription+xml"),
                )
            ),
            f"        location /downloads/ {{ alias {served['downloads']}/;"
            " types { application/geopackage+sqlite3 gpkg; } }",
        ]
    )
    env = {"PYCSW_CONFIG": str(config), "SDI_CSW_DATABASE": _sqlalchemy_url(ctx.reader_url)}
    command = [
        str(python),
        "-m",
        "gunicorn",
        "--bind",
        f"unix:{socket}",
        "--workers",
        "1",
        "--timeout",
        "30",
        "--no-control-socket",
        "--error-logfile",
        "-",
        "pycsw.wsgi:application",
    ]
    return Service("csw", command, nginx, env=env, on_change=lambda: refresh(settings, base, view))


_PROXY = (
    "proxy_set_header Host $http_host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; "
    "proxy_read_timeout 35s;"
)


def metadata_folder(settings: Settings) -> Path:
    """$SDI_HOME/metadata: the ISO records, the DCAT catalogue and the Atom feed, as nginx serves them."""
    return settings.home_abs / "metadata"


def refresh(settings: Settings, base: str, view: bool = False) -> int:
    """Regenerate records (data sets and services), downloads, DCAT and Atom; reload csw.records; return records."""
    with open_catalogue(settings) as conn:
        found = datasets.published(conn, settings)
        downloads.refresh(settings, found)
    out = metadata_folder(settings)
    out.mkdir(parents=True, exist_ok=True)
    fresh = set()
    for ds in found:
        fresh.add(_replace(out / f"{ds.file_identifier}.xml", records.iso19139(ds, settings, base)))
    for svc in service_records.offered(view):
        fresh.add(
            _replace(
                out / f"{service_records.file_identifier(svc.key)}.xml",
                service_records.iso19139(svc, found, settings, base),
            )
        )
    for name, data in (
        (
            "catalogue.jsonld",
            json.dumps(dcat.catalogue(found, settings, base), ensure_ascii=False, indent=1, default=str).encode(
                "utf-8"
            ),
        ),
        ("atom.xml", atom.service_feed(found, settings, base)),
        ("opensearch.xml", atom.opensearch(base)),
    ):
        fresh.add(_replace(out / name, data))
    for stale in out.iterdir():
        if stale not in fresh:
            stale.unlink()  # a data set no longer published (or made restricted) loses its record
    _load(settings, out)
    logger.info("catalogue: %d records, %d bulk files", len(found), sum(len(d.downloads) for d in found))
    return len(found)


def _replace(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    os.replace(tmp, path)
    return path


def _load(settings: Settings, folder: Path) -> None:
    """Replace csw.records with the records in `folder`, parsed by pycsw itself, in one transaction."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SDI_CSW_DATABASE": _sqlalchemy_url(database_url(settings)),
        "SDI_CSW_RECORDS": str(folder),
    }
    # -I: the script's folder is not put first on sys.path (sdi/server/html.py would shadow the stdlib)
    done = subprocess.run(
        [str(csw_python(settings)), "-I", str(HERE / "csw_load.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]  # the script's one-line error, or a traceback's end
        raise RuntimeError(f"loading the CSW records failed: {last}")


def _grant_reader(settings: Settings, reader_url: str) -> None:
    """Let the API's login (pycsw's) read csw.records, which holds public records only; nothing else."""
    role: Any = conninfo_to_dict(reader_url).get("user")  # libpq parses every value as text
    with open_catalogue(settings) as conn, conn.transaction():
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA csw TO {r}; GRANT SELECT ON csw.records TO {r}").format(
                r=sql.Identifier(role)
            )
        )


def _sqlalchemy_url(conninfo: str) -> str:
    """A libpq URL or conninfo as SQLAlchemy 1.4's psycopg2 URL, with PostGIS's schema on the search path."""
    p: dict[str, Any] = conninfo_to_dict(conninfo)  # libpq parses every value as text
    with psycopg.connect(conninfo) as conn:
        postgis = scalar(
            conn.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'postgis'")
        )
    auth = f"{quote(p.get('user', ''), safe='')}:{quote(p.get('password', ''), safe='')}@"
    # host and port go in the query, where libpq reads them as they are: a replica set's "h1,h2" and "p1,p2"
    # (a netloc takes one port, and SQLAlchemy parses it as a number); its other options (prefer-standby,
    # load balancing, timeout) ride along. psycopg2's wheel carries libpq 17, which knows all of them.
    extra = {k: v for k, v in p.items() if k not in ("user", "password", "dbname", "options")}
    extra.setdefault("host", "localhost")
    query = f"?options={quote(f'-c search_path=csw,{postgis}', safe='')}" + "".join(
        f"&{k}={quote(str(v), safe='')}" for k, v in extra.items()
    )
    return f"postgresql://{auth}/{quote(p.get('dbname', ''), safe='')}{query}"


def _write_config(folder: Path, base: str) -> Path:
    """pycsw's configuration: no password in it (the URL comes from the environment), no transactions."""
    text = f"""# Written by `sdi serve` (sdi/server/csw.py) at each start: edits here are lost.
[server]
home={folder}
url={base}/csw
mimetype=application/xml; charset=UTF-8
encoding=UTF-8
language=en
maxrecords=100
pretty_print=true
domainquerytype=list
domaincounts=false
profiles=apiso

[manager]
transactions=false
allowed_ips=

[metadata:main]
identification_title=SIP – katalog metadanych / SDI metadata catalogue
identification_abstract=Usługa wyszukiwania (CSW) zbiorów danych przestrzennych gmin / Discovery service of municipal \
spatial data sets
identification_keywords=SIP,INSPIRE,CSW,metadane,metadata
identification_keywords_type=theme
identification_fees=brak / none
identification_accessconstraints=brak / none
provider_name=sdi
provider_url={base}
contact_name=Administrator SIP
contact_position=GIS officer
contact_address=-
contact_city=-
contact_stateorprovince=-
contact_postalcode=-
contact_country=Polska
contact_phone=-
contact_fax=-
contact_email=sip@example.gov.pl
contact_url={base}
contact_hours=-
contact_instructions=-
contact_role=pointOfContact

[repository]
database=${{SDI_CSW_DATABASE}}
table=csw.records

[metadata:inspire]
enabled=true
languages_supported=pol,eng
default_language=pol
date=2024-01-01
gemet_keywords=Usługa wyszukiwania
conformity_service=notEvaluated
contact_name=Administrator SIP
contact_email=sip@example.gov.pl
temp_extent=2024-01-01/now
"""
    path = folder / "pycsw.cfg"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)
    return path
