"""Bulk downloads: one GeoPackage per (city, theme) and one per theme over all cities, served by nginx.

Written by `sdi serve`'s parent (the owner) whenever the catalogue changes, never by the loading process,
which may run in a city's office. A file is rewritten only when the loads behind it changed, into a
temporary name first and then renamed, so that nginx serves the old file or the new one, never half of one.
nginx answers with ETag, Last-Modified and range requests.

At national scale (issue 17: 10M rows, a national file of about 2 GB) a write takes minutes, so:
- a file is streamed: a server-side cursor hands BATCH rows at a time to GDAL as Arrow batches of a fixed
  schema (the theme's column types, so a batch of NULLs changes no field's type), and the memory is one
  batch's, whatever the data set's size;
- `refresh` only decides: it links the files that exist (with their size on disk), removes the unpublished
  ones, and queues the stale ones. In `sdi serve` a writer thread of the serve parent writes them, started by
  `progress()`, which the serve loop calls at each poll, after its children are started (a thread before a
  fork with preexec_fn could deadlock the child). The previous file is served and linked until its replacement
  is renamed in. When the writer has drained its queue (or every _ROUND_SECONDS of a long queue) `progress()`
  returns a new number: the serve loop then regenerates the configuration and records, and the new files get
  their links. The API answers meanwhile; a link never points at a missing or half-written file.
The queue holds the newest plan only, so loads committed while a file is written are taken together by its
next write: a burst of loads rebuilds a theme's national file at most once after the one in progress.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pyarrow as pa
import pyogrio
from psycopg import sql

from sdi.core import sqlfiles
from sdi.core.db import connect
from sdi.core.settings import Settings
from sdi.server.datasets import ALL, Dataset

logger = logging.getLogger(__name__)

PREFIX = "/downloads"  # where nginx serves the folder
GPKG = "application/geopackage+sqlite3"
BATCH = 50_000  # rows per fetch and per Arrow batch: bounds the write's memory (tests pass a smaller one)
_ROUND_SECONDS = 60  # a long queue (every gmina's files at a first start) is linked in steps this far apart
_SKIP = {"geom", "load_id"}
# PostgreSQL type oid -> the Arrow type of the column, hence the GeoPackage field's: bool, int2/4/8, float4/8,
# date, timestamp, timestamptz; text, char and varchar are strings. Any other type is sent as text by a cast.
_ARROW = {16: pa.bool_(), 20: pa.int64(), 21: pa.int64(), 23: pa.int64(), 700: pa.float64(), 701: pa.float64()}
_ARROW |= {1082: pa.date32(), 1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC")}
_TEXT = {25, 1042, 1043}


def folder(settings: Settings) -> Path:
    """$SDI_HOME/downloads: only files written here, by name from theme and city, are served."""
    return settings.home_abs / "downloads"


def public_path(ds: Dataset) -> str:
    """The URL path of a data set's GeoPackage (theme and city are checked identifiers, never row text)."""
    city = "PL" if ds.city == ALL else ds.city
    return f"{PREFIX}/{sqlfiles.check_theme(ds.theme)}/{ds.theme}_{city}.gpkg"


@dataclass
class _Job:
    ds: Dataset
    path: str  # public path, the state file's key
    target: Path
    stamp: str  # the loads behind the file


@dataclass
class _Queue:
    """What the writer is to do: the newest plan only, the city files before the (long) national ones."""

    jobs: list[_Job] = field(default_factory=list)
    keep: set[Path] = field(default_factory=set)  # the files still published: only these may be renamed in
    busy: _Job | None = None
    settings: Settings | None = None
    thread: threading.Thread | None = None
    rounds: int = 0  # how many times freshly written files were handed over for linking
    fresh: int = 0  # files renamed in since then
    handed: float = field(default_factory=time.monotonic)


_LOCK = threading.Lock()  # held briefly: planning, renaming a file in, the state file; never during a write
_QUEUE = _Queue()


def refresh(settings: Settings, datasets: list[Dataset]) -> int:
    """Queue the GeoPackages whose loads changed for the writer, remove unpublished ones, and put each data set's
    existing file (with its size on disk) in `ds.downloads`; returns the files queued."""
    root = folder(settings)
    root.mkdir(parents=True, exist_ok=True)
    jobs, keep = [], set()
    with _LOCK:
        state = _state(root)
        for ds in datasets:
            if ds.raster:
                continue  # a raster's download is its COG, served under /rasters/
            path = public_path(ds)
            job = _Job(ds, path, root / path.removeprefix(PREFIX + "/"), _stamp(ds))
            keep.add(job.target)
            busy = _QUEUE.busy
            stale = state.get(path) != job.stamp or not job.target.exists()
            if stale and not (busy and (busy.path, busy.stamp) == (path, job.stamp)):
                jobs.append(job)
        for old in root.glob("*/*.gpkg"):
            if old.name.startswith("."):  # a file being written (ours) or left by a server stopped during a write
                if not old.name.endswith(_tmp_suffix()):
                    old.unlink(missing_ok=True)
            elif old not in keep:
                old.unlink()  # unpublished, or a theme made restricted: its file goes now, with its links
        _save(root, {p: s for p, s in state.items() if root / p.removeprefix(PREFIX + "/") in keep})
        jobs.sort(key=lambda j: j.ds.city == ALL)
        _QUEUE.jobs, _QUEUE.keep, _QUEUE.settings = jobs, keep, settings
    for ds in datasets:
        target = root / public_path(ds).removeprefix(PREFIX + "/")
        if not ds.raster and target.exists():
            ds.downloads[public_path(ds)] = target.stat().st_size
    return len(jobs)


def progress() -> int:
    """Start the writer thread if files are queued and none runs; returns how many times it handed files over.

    Called by the serve loop at each poll: a new number means new files to link.
    """
    with _LOCK:
        running = _QUEUE.thread is not None and _QUEUE.thread.is_alive()
        if _QUEUE.jobs and not running and _QUEUE.settings is not None:
            # A long queue hands files over every _ROUND_SECONDS from the writer's start, not from the last
            # hand-over long ago: else the first file written would end a round while the rest still wait.
            _QUEUE.handed = time.monotonic()
            _QUEUE.thread = threading.Thread(target=_run, args=(_QUEUE.settings,), name="sdi-downloads", daemon=True)
            _QUEUE.thread.start()
        return _QUEUE.rounds


def _run(settings: Settings) -> None:
    try:
        with connect(settings) as conn:
            _drain(conn)
    except Exception as exc:  # noqa: BLE001 -- the API serves the previous files; the next change tries again
        logger.error("bulk downloads not written (tried again at the next catalogue change): %s", exc)


def _drain(conn: psycopg.Connection) -> None:
    """Write queued files one by one until the queue is empty; a file that fails is logged and skipped."""
    while True:
        with _LOCK:
            if _QUEUE.fresh and (not _QUEUE.jobs or time.monotonic() - _QUEUE.handed > _ROUND_SECONDS):
                _QUEUE.rounds, _QUEUE.fresh, _QUEUE.handed = _QUEUE.rounds + 1, 0, time.monotonic()
            if not _QUEUE.jobs:
                _QUEUE.busy = None
                return
            job = _QUEUE.busy = _QUEUE.jobs.pop(0)
        try:
            _write(conn, job.ds, job.target, install=functools.partial(_install, job))
        except Exception as exc:  # noqa: BLE001 -- one file failing must not keep the others from being written
            logger.error("bulk download %s not written: %s", job.target.name, exc)


def _install(job: _Job, tmp: Path) -> None:
    """Rename a written file into place and record its loads, unless it was unpublished while being written."""
    with _LOCK:
        if job.target not in _QUEUE.keep:
            return  # made restricted or removed meanwhile: not one byte of it is served
        os.replace(tmp, job.target)
        root = job.target.parent.parent  # <root>/<theme>/<file>
        _save(root, _state(root) | {job.path: job.stamp})
        _QUEUE.fresh += 1


def _tmp_suffix() -> str:
    return f".{os.getpid()}.tmp.gpkg"  # .gpkg: GDAL warns of a GeoPackage named otherwise


def _stamp(ds: Dataset) -> str:
    return ",".join(str(x.load_id) for x in sorted(ds.loads, key=lambda x: x.city))


def _state(root: Path) -> dict[str, str]:
    """{public path: the loads its file on disk holds}, as renamed in."""
    try:
        return json.loads((root / ".state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save(root: Path, state: dict[str, str]) -> None:
    tmp = root / f".state.json.{os.getpid()}"
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, root / ".state.json")


def _write(
    conn: psycopg.Connection,
    ds: Dataset,
    target: Path,
    batch: int = BATCH,
    install: Callable[[Path], None] | None = None,
) -> int:
    """One data set's current rows as a GeoPackage in EPSG:2180, in fid order, written aside then renamed into
    place (by `install` when given); returns the features written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}{_tmp_suffix()}")
    try:
        with conn.transaction():  # a server-side cursor lives in a transaction
            count = _stream(conn, ds, tmp, batch)
        os.chmod(tmp, 0o644)
        if install is None:
            os.replace(tmp, target)
        else:
            install(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("bulk download %s: %d features", target.name, count)
    return count


def _stream(conn: psycopg.Connection, ds: Dataset, path: Path, batch: int) -> int:
    """Rows from a server-side cursor, `batch` at a time, to GDAL as Arrow batches of one schema."""
    table = sqlfiles.theme_table(ds.theme)
    probe = conn.execute(sql.SQL("SELECT * FROM {} WHERE false").format(table))
    columns = [(d.name, d.type_code) for d in probe.description or [] if d.name not in _SKIP]
    schema = pa.schema([(n, _ARROW.get(oid, pa.string())) for n, oid in columns] + [("geom", pa.binary())])
    # a column of another type (numeric, jsonb, an array) is sent as its text: the GeoPackage gets what psql shows
    select = [
        sql.Identifier(n) if oid in _ARROW or oid in _TEXT else sql.SQL("{}::text").format(sql.Identifier(n))
        for n, oid in columns
    ]
    # The data set's own loads are bound, so that only their partitions are planned (2,477 cities' partitions
    # would cost more to plan than one city's rows to read; sdi.server.partition_scope says why), and a
    # national file is read a few loads at a time (_groups): one cursor over every city's partition merged
    # 2,477 ordered index scans and held a backend at 3.1 GB for the ten minutes of a 10M-row file.
    where: sql.Composable = sql.SQL(" WHERE load_id = ANY(%s::bigint[])")
    if ds.city != ALL:
        where = where + sql.SQL(" AND city = {}").format(sql.Literal(ds.city))
    query = sql.SQL("SELECT {}, ST_AsBinary(geom) AS geom FROM {}{} ORDER BY fid").format(
        sql.SQL(", ").join(select), table, where
    )
    count = [0]

    def rows() -> Iterator[tuple]:
        for group in _groups(conn, [x.load_id for x in ds.loads]):
            with conn.cursor(name="sdi_download", binary=True) as cur:
                cur.execute(query, [group])
                while found := cur.fetchmany(batch):
                    yield from found

    def batches() -> Iterator[pa.RecordBatch]:
        source = rows()
        while chunk := list(itertools.islice(source, batch)):
            count[0] += len(chunk)
            columns = zip(*chunk, strict=True)  # row tuples to column tuples
            arrays = [pa.array(values, type=kind) for values, kind in zip(columns, schema.types, strict=True)]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    pyogrio.write_arrow(
        reader,
        str(path),
        layer=ds.theme,
        driver="GPKG",
        geometry_name="geom",
        geometry_type=getattr(ds.schema, "geometry", "Unknown"),
        crs="EPSG:2180",
    )
    return count[0]


def _groups(conn: psycopg.Connection, load_ids: list[int]) -> list[list[int]]:
    """The loads in fid order, in groups that can be read one after another and still give every row in fid
    order: loads whose fid ranges overlap (written at once), or whose range is unknown, share a group."""
    ranges = conn.execute(
        "SELECT load_id, fid_min, fid_max FROM data.sdi_layers WHERE load_id = ANY(%s::bigint[])"
        " ORDER BY fid_min NULLS FIRST, load_id",
        [load_ids],
    ).fetchall()
    groups: list[list[int]] = []
    top: int | None = None  # the highest fid of the group so far (None: unknown, so the next load joins it)
    for load_id, low, high in ranges:
        if groups and (top is None or low is None or low <= top):
            groups[-1].append(load_id)
            top = None if top is None or high is None else max(top, high)
        else:
            groups.append([load_id])
            top = high
    unlisted = sorted(set(load_ids) - {r[0] for r in ranges})  # not current any more: the query finds nothing
    return groups + ([unlisted] if unlisted else [])
