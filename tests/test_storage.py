"""Issue 17: history partitioned by load, `sdi prune` under concurrent readers, the guard's kept version,
and tables of before the partitions converted in place."""

from __future__ import annotations

import json
import os
import threading
import time

import geopandas as gpd
import numpy as np
import psycopg
import pytest
from shapely.geometry import Point

from sdi.core.catalogue import Provenance, migrate, rollback
from sdi.core.config import registry
from sdi.loader import load as loader
from sdi.loader.guard import LoadRefused
from sdi.pipeline import run_load

from conftest import run_sdi

CITY, OTHER = "1465011", "1261011"


def _points(tmp_path, name: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    frame = gpd.GeoDataFrame(
        {"name": [name] * n, "service_type": ["library"] * n},
        geometry=gpd.points_from_xy(rng.uniform(630_000, 645_000, n), rng.uniform(480_000, 495_000, n)),
        crs=2180,
    )
    frame.to_file(tmp_path / f"{name}.gpkg")
    return tmp_path / f"{name}.gpkg"


def _versions(settings, tmp_path, city: str, count: int) -> list[int]:
    return [
        run_load(
            _points(tmp_path, f"v{city}_{i}", 100 + i, seed=i), city=city, theme="public_services", settings=settings
        ).load_id
        for i in range(count)
    ]


def _partitions(db_url: str) -> set[str]:
    with psycopg.connect(db_url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'history.public_services'::regclass"
            )
        }


def test_each_load_is_its_own_indexed_partition(settings, db_url, tmp_path):
    ids = _versions(settings, tmp_path, CITY, 2)
    assert _partitions(db_url) == {f"public_services#{i}" for i in ids}
    with psycopg.connect(db_url) as conn:
        assert (
            conn.execute("SELECT relkind FROM pg_class WHERE oid = 'history.public_services'::regclass").fetchone()[0]
            == "p"
        )
        indexes = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [f"public_services#{ids[1]}"])
        assert sorted("gist" in d for (d,) in indexes) == [False, True]  # the key (fid, load_id) and the GiST index
        assert (
            conn.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [f"public_services#{ids[1]}"]).fetchone()[
                0
            ]
            == 101
        )  # ANALYZEd
        assert conn.execute("SELECT count(*) FROM data.public_services").fetchone()[0] == 101


def test_prune_keeps_the_current_and_newest_versions_while_readers_read(settings, db_url, tmp_path):
    ids = _versions(settings, tmp_path, CITY, 5)
    other = _versions(settings, tmp_path, OTHER, 2)
    with psycopg.connect(db_url) as conn:
        rollback(conn, CITY, "public_services", ids[0])  # the oldest is current again: it must stay
        before = conn.execute("SELECT city, name, ST_AsEWKB(geom) FROM data.public_services ORDER BY fid").fetchall()
    errors, answers, stop = [], [0], threading.Event()

    def read():
        with psycopg.connect(db_url, autocommit=True) as conn:
            while not stop.is_set():
                try:
                    rows = conn.execute(
                        "SELECT count(*) FROM data.public_services"
                        " WHERE geom && ST_MakeEnvelope(630000, 480000, 645000, 495000, 2180)"
                    ).fetchone()[0]
                    assert rows == len(before)
                    answers[0] += 1
                except Exception as exc:  # noqa: BLE001 - every failure of a reader is the finding
                    errors.append(repr(exc))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    env = {"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path / "home")}
    dry = run_sdi("prune", "--keep", "2", "--dry-run", "--json", env=env)
    result = run_sdi("prune", "--city", CITY, "--keep", "2", "--json", env=env)
    stop.set()
    for t in readers:
        t.join()
    assert dry.returncode == 0 and result.returncode == 0, dry.stderr + result.stderr
    assert {v["load_id"] for v in json.loads(dry.stdout)["versions"]} == {ids[1], ids[2]}
    report = json.loads(result.stdout)
    assert {v["load_id"] for v in report["versions"]} == {ids[1], ids[2]} and report["freed_bytes"] > 0
    assert errors == [] and answers[0] > 0
    assert _partitions(db_url) == {f"public_services#{i}" for i in (ids[0], ids[3], ids[4], *other)}
    with psycopg.connect(db_url) as conn:
        after = conn.execute("SELECT city, name, ST_AsEWKB(geom) FROM data.public_services ORDER BY fid").fetchall()
        assert after == before
        assert conn.execute("SELECT count(*) FROM sdi.loads WHERE load_id = ANY(%s)", [ids[1:3]]).fetchone()[0] == 0
        rollback(conn, CITY, "public_services", ids[4])  # a kept version still rolls back


def test_prune_never_drops_a_referenced_version_and_finishes_a_killed_prune(settings, db_url, tmp_path):
    ids = _versions(settings, tmp_path, CITY, 4)
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE public.citations (load_id bigint REFERENCES sdi.loads)")
        conn.execute("INSERT INTO public.citations VALUES (%s)", [ids[0]])
        # a prune killed after its catalogue step: the row is gone, the partition still attached
        conn.execute("DELETE FROM sdi.loads WHERE load_id = %s", [ids[1]])
    result = run_sdi("prune", "--keep", "1", "--json", env={"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["referenced"] == [ids[0]] and [v["load_id"] for v in report["versions"]] == [ids[2]]
    assert report["orphan_partitions"] == [f"public_services#{ids[1]}"]
    assert _partitions(db_url) == {f"public_services#{ids[0]}", f"public_services#{ids[3]}"}


def test_prune_removes_only_old_cogs_that_no_row_names(db_url, tmp_path):
    folder = tmp_path / "rasters" / "elevation" / "2699011"
    folder.mkdir(parents=True)
    old, fresh = folder / "20200101T000000-0a1b2c3d.tif", folder / "20200101T000001-0a1b2c3e.tif"
    for f in (old, fresh):
        f.write_bytes(b"\0" * 1000)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    env = {"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path), "SDI_RASTER_DIR": str(tmp_path / "rasters")}
    result = run_sdi("prune", "--keep", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert "orphan file" in result.stdout and not old.exists() and fresh.exists()
    bad = run_sdi("prune", "--keep", "0", env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_a_refused_load_stays_a_finished_version_that_is_not_current(settings, db_url, tmp_path):
    first = _versions(settings, tmp_path, CITY, 1)[0]
    schema = registry().schemas["public_services"]
    frame = gpd.GeoDataFrame(
        {"city": [CITY], "source_id": ["1"], **{f: [None] for f in schema.fields}},
        geometry=[Point(637000, 485000)],
        crs=2180,
    )
    reject = {"index": 2, "source_id": "2", "reason": "null geometry", "properties": {"name": "x"}}

    def refuse(stored: int, rejected: int) -> None:
        raise LoadRefused("too many rejects", "look at them with sdi rejects")

    with psycopg.connect(db_url) as conn:
        with pytest.raises(LoadRefused):
            loader.load(
                conn,
                [(frame, [reject])],
                city=CITY,
                schema=schema,
                provenance=Provenance("r.gpkg", None, {}),
                before_publish=refuse,
            )
        load_id, state = conn.execute(
            "SELECT max(load_id), max(state) FROM sdi.loads WHERE load_id > %s", [first]
        ).fetchone()
        assert state == "finished"
        assert conn.execute("SELECT load_id FROM sdi.layers WHERE city = %s", [CITY]).fetchone()[0] == first
        assert conn.execute("SELECT reason FROM sdi.rejects WHERE load_id = %s", [load_id]).fetchall() == [
            ("null geometry",)
        ]
        assert (
            conn.execute("SELECT count(*) FROM history.public_services WHERE load_id = %s", [load_id]).fetchone()[0]
            == 1
        )
    shown = run_sdi(
        "rejects",
        "--city",
        CITY,
        "--theme",
        "public_services",
        env={"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path)},
    )
    assert shown.returncode == 0 and "null geometry" in shown.stdout


def test_a_history_table_of_before_the_partitions_is_converted(db_url, settings, tmp_path):
    with psycopg.connect(db_url) as conn:
        migrate(conn)
        # history.trees as sdi made it before issue 17: one table, one index over every load
        conn.execute(
            "CREATE TABLE history.trees (fid bigserial PRIMARY KEY, city char(7) NOT NULL, source_id text,"
            " load_id bigint NOT NULL, geom geometry(Point, 2180) NOT NULL)"
        )
        conn.execute("CREATE INDEX trees_geom_idx ON history.trees USING gist (geom)")
        ids = []
        for i in range(2):
            load = conn.execute(
                "SELECT sdi.begin_load(%s, 'trees', 'old.shp', NULL, '{}', NULL, NULL, NULL, NULL, NULL)", [CITY]
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO history.trees (city, load_id, geom) SELECT %s, %s,"
                " ST_Point(637000 + g, 485000, 2180) FROM generate_series(1, %s) g",
                [CITY, load, 3 + i],
            )
            conn.execute("SELECT sdi.finish_load(%s, %s, 0)", [load, 3 + i])
            ids.append(load)
        conn.execute("SELECT sdi.set_current(%s, 'trees', %s)", [CITY, ids[1]])
        conn.execute(
            "CREATE VIEW data.trees AS SELECT h.* FROM history.trees h JOIN sdi.layers l"
            " ON l.load_id = h.load_id AND l.city = h.city AND l.theme = 'trees'"
        )
        fids = conn.execute("SELECT fid FROM data.trees ORDER BY fid").fetchall()
        conn.commit()
        loader.ensure_theme_table(conn, registry().schemas["trees"])
        assert (
            conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'history.trees'::regclass").fetchone()[0]
            == 2
        )
        assert conn.execute("SELECT fid FROM data.trees ORDER BY fid").fetchall() == fids
    again = run_load(_points(tmp_path, "drzewa", 7), city=CITY, theme="trees", settings=settings)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM data.trees").fetchone()[0] == again.features_loaded == 7
        assert min(r[0] for r in conn.execute("SELECT fid FROM data.trees")) > fids[-1][0]  # the sequence went on
