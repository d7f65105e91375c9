"""Each city writes only its own data, the API's login only reads, and identifiers cannot inject SQL.

Every claim in SECURITY.md about roles and identifiers is proved here, on a real PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from shapely.geometry import LineString

from sdi.core import roles
from sdi.core.catalogue import migrate
from sdi.core.config import registry
from sdi.core.errors import ConfigError, LoadError
from sdi.core.sample import SAMPLE_CITY
from sdi.core.settings import Settings
from sdi.loader.load import ensure_theme_table
from sdi.pipeline import run_load, run_load_raster

from conftest import run_sdi

WARSAW = "1465011"
PASSWORD = "correct-horse-battery-staple"


def _as(url: str, user: str, password: str) -> str:
    params = conninfo_to_dict(url)
    params.update(user=user, password=password)
    return make_conninfo(**params)


@pytest.fixture
def city_db(db_url, sample, settings):
    """`sdi init` done, the sample gmina loaded by the owner, and a login for Warsaw."""
    with psycopg.connect(db_url) as conn:
        migrate(conn)
        for schema in registry().schemas.values():
            ensure_theme_table(conn, schema)
        roles.add_city(conn, WARSAW, PASSWORD)
    run_load(sample["roads"], city=SAMPLE_CITY, theme="roads", settings=settings)
    return db_url, _as(db_url, f"sdi_city_{WARSAW}", PASSWORD)


def _roads(db_url: str, city: str) -> list:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT fid, name FROM data.roads WHERE city = %s ORDER BY fid", [city]).fetchall()


def _warsaw_roads(tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["ul. Marszałkowska"], "road_class": ["municipal"]},
        geometry=[LineString([(637000, 485000), (637100, 487000)])],
        crs=2180,
    )
    frame.to_file(tmp_path / "drogi_wawa.gpkg")
    return tmp_path / "drogi_wawa.gpkg"


def test_a_city_login_loads_its_own_city_and_no_other(city_db, sample, tmp_path):
    owner_url, city_url = city_db
    as_city = Settings(home=tmp_path / "home", database_url=city_url)
    report = run_load(_warsaw_roads(tmp_path), city=WARSAW, theme="roads", settings=as_city)
    assert report.features_loaded == 1 and [r[1] for r in _roads(owner_url, WARSAW)] == ["ul. Marszałkowska"]
    before = _roads(owner_url, SAMPLE_CITY)
    with pytest.raises(LoadError, match=f"may load only city {WARSAW}, not {SAMPLE_CITY}"):
        run_load(sample["roads"], city=SAMPLE_CITY, theme="roads", settings=as_city)
    assert _roads(owner_url, SAMPLE_CITY) == before
    # The same through the CLI, as a city's officer would run it: one line, no traceback.
    cli = run_sdi(
        "load",
        str(sample["roads"]),
        "--city",
        SAMPLE_CITY,
        "--theme",
        "roads",
        env={"SDI_DATABASE_URL": city_url, "SDI_HOME": str(tmp_path / "h2")},
    )
    assert cli.returncode != 0 and "may load only city" in cli.stderr and "Traceback" not in cli.stderr
    assert _roads(owner_url, SAMPLE_CITY) == before


def test_a_city_login_loads_rasters_of_its_own_city_only(city_db, tmp_path):
    import raster_fixtures

    owner_url, city_url = city_db
    as_city = Settings(home=tmp_path / "home", database_url=city_url)
    noise = raster_fixtures.noise_map(tmp_path / "halas.tif")
    report = run_load_raster(noise, city=WARSAW, theme="noise_map", settings=as_city)
    with psycopg.connect(owner_url) as conn:
        name = str(Path(report["cog"]["path"]).relative_to(as_city.raster_dir_abs))  # kept relative (issue 16)
        assert conn.execute("SELECT city, path FROM data.sdi_rasters").fetchall() == [(WARSAW, name)]
    with pytest.raises(LoadError, match=f"may load only city {WARSAW}"):
        run_load_raster(noise, city=SAMPLE_CITY, theme="noise_map", settings=as_city)
    with psycopg.connect(owner_url) as conn:
        others = conn.execute("SELECT max(load_id) FROM sdi.loads WHERE city = %s", [SAMPLE_CITY]).fetchone()[0]
    with psycopg.connect(city_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        # a raster row pointing at another city's load: a city has no INSERT on sdi.rasters at all
        conn.execute(
            "INSERT INTO sdi.rasters (load_id, path, width, height, bands, dtype, resolution, bytes, bounds)"
            " VALUES (%s, 'x', 1, 1, 1, 'uint8', 1, 1, ST_MakeEnvelope(0, 0, 1, 1, 2180))",
            [others],
        )


@pytest.mark.parametrize(
    "statement",
    [
        f"INSERT INTO history.roads (city, load_id, geom) VALUES ('{SAMPLE_CITY}', 1,"
        " 'SRID=2180;MULTILINESTRING((0 0,1 1))')",
        f"INSERT INTO sdi.loads (city, theme, source, feature_count, reject_count)"
        f" VALUES ('{SAMPLE_CITY}', 'roads', 'x', 0, 0)",
        "DELETE FROM history.roads",
        "DROP TABLE history.roads",
        "DROP VIEW data.roads",
        "CREATE TABLE data.mine (id int)",
        "ALTER TABLE history.roads DISABLE ROW LEVEL SECURITY",
        f"ALTER ROLE sdi_city_{WARSAW} SUPERUSER",
        "CREATE ROLE intruder",
        "TRUNCATE sdi.layers",
    ],
)
def test_hand_written_sql_of_a_city_cannot_touch_others_or_the_schema(city_db, statement):
    owner_url, city_url = city_db
    before = _roads(owner_url, SAMPLE_CITY)
    with psycopg.connect(city_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    assert _roads(owner_url, SAMPLE_CITY) == before


def test_a_city_sees_and_switches_nothing_of_another_city(city_db):
    owner_url, city_url = city_db
    with psycopg.connect(city_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM history.roads WHERE city = '{SAMPLE_CITY}'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM sdi.loads").fetchone()[0] == 0
        # A city has no UPDATE on sdi.layers (issue 16); row-level security would hide the row anyway.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"UPDATE sdi.layers SET load_id = 999 WHERE city = '{SAMPLE_CITY}'")
        conn.rollback()
        # The published data stays readable to everyone, through the views.
        assert conn.execute(f"SELECT count(*) FROM data.roads WHERE city = '{SAMPLE_CITY}'").fetchone()[0] == 9
    assert len(_roads(owner_url, SAMPLE_CITY)) == 9


def test_the_api_reader_reads_the_data_views_only(city_db):
    owner_url, _ = city_db
    with psycopg.connect(owner_url) as conn:
        reader_url = roles.ensure_reader(conn, owner_url)
    with psycopg.connect(reader_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM data.roads").fetchone()[0] == 9
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == roles.READER_TIMEOUT
        for statement in (
            "SELECT * FROM sdi.loads",
            "SELECT * FROM sdi.tokens",
            "SELECT * FROM history.roads",
            "SELECT * FROM sdi.rejects",
            "DELETE FROM data.roads",
            "CREATE TABLE data.x (i int)",
        ):
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)):
                conn.execute(statement)


def test_city_logins_are_listed_and_removed(city_db):
    owner_url, city_url = city_db
    with psycopg.connect(owner_url) as conn:
        assert any(c["city"] == WARSAW for c in roles.list_cities(conn))
        assert roles.remove_city(conn, WARSAW) and not roles.remove_city(conn, WARSAW)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(city_url)


def test_city_add_takes_its_password_from_a_file_or_the_environment(db_url, tmp_path):
    env = {"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path / "home")}
    assert run_sdi("init", env=env).returncode == 0
    missing = run_sdi("city", "add", "1261011", env=env)
    assert missing.returncode != 0 and "--password-file" in missing.stderr
    (tmp_path / "pass").write_text("a-long-enough-password\n")
    ok = run_sdi("city", "add", "1261011", "--password-file", str(tmp_path / "pass"), env=env)
    assert ok.returncode == 0 and "a-long-enough-password" not in ok.stdout + ok.stderr
    listed = run_sdi("city", "list", env=env)
    assert "sdi_city_1261011" in listed.stdout
    psycopg.connect(_as(db_url, "sdi_city_1261011", "a-long-enough-password")).close()


HOSTILE = 'x"; DROP TABLE roads; --'


def test_hostile_column_and_layer_names_are_only_data(db_url, settings, tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["ul. Długa"], "road_class": ["municipal"], HOSTILE: ["boom"]},
        geometry=[LineString([(637000, 485000), (637100, 487000)])],
        crs=2180,
    )
    frame.to_file(tmp_path / "evil.gpkg", layer="roads'; DROP TABLE sdi.loads; --")
    mapping = tmp_path / "evil.yaml"
    mapping.write_text(f"theme: roads\nfields:\n  name: {{from: '{HOSTILE}'}}\n  road_class: {{from: road_class}}\n")
    report = run_load(tmp_path / "evil.gpkg", city=WARSAW, theme="roads", mapping_path=mapping, settings=settings)
    assert report.features_loaded == 1
    assert [r[1] for r in _roads(db_url, WARSAW)] == ["boom"]  # the hostile column's value, stored as data
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM sdi.loads").fetchone()[0] == 1


@pytest.mark.parametrize(
    "city, theme",
    [("1465011'; DROP TABLE sdi.loads; --", "roads"), (WARSAW, "roads; DROP TABLE sdi.loads"), (WARSAW, '"roads"')],
)
def test_hostile_city_and_theme_are_refused_before_any_sql(db_url, settings, sample, city, theme):
    with pytest.raises(ConfigError):
        run_load(sample["roads"], city=city, theme=theme, settings=settings)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM sdi.loads").fetchone()[0] == 0
