"""Issue 16, the database side: a city's login writes the catalogue only through the owner's functions,
which check city, load and file name inside PostgreSQL; tokens and city logins see only their scope; the
owner of the embedded cluster cannot become a superuser or reach the server's files and programs.

Each attack here was run against the code before the fix and succeeded (see /work/notes/security_db.md).
"""

from __future__ import annotations

import geopandas as gpd
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from shapely.geometry import LineString, MultiLineString

from sdi.core import roles, tokens
from sdi.core.catalogue import history, migrate
from sdi.core.config import registry
from sdi.core.errors import LoadError
from sdi.core.settings import Settings
from sdi.loader.load import ensure_theme_table
from sdi.pipeline import run_load

WARSAW, KIELCE, KRAKOW = "1465011", "2699011", "1261011"
PASSWORD = "correct-horse-battery-staple"
STAMP = "20250101T120000-0a1b2c3d.tif"


def _as(url: str, user: str) -> str:
    params = conninfo_to_dict(url)
    params.update(user=user, password=PASSWORD)
    return make_conninfo(**params)


def _lines(tmp_path, file: str, x: float, n: int = 1, **fields) -> str:
    frame = gpd.GeoDataFrame(
        {k: [v] * n for k, v in fields.items()},
        geometry=[LineString([(x + i, 485000), (x + i, 487000)]) for i in range(n)],
        crs=2180,
    )
    frame.to_file(tmp_path / file)
    return tmp_path / file


@pytest.fixture
def two_cities(db_url, tmp_path):
    """`sdi init`, logins for Warsaw and Kielce, roads and (restricted) utility networks loaded by each city."""
    with psycopg.connect(db_url) as conn:
        migrate(conn)
        for schema in registry().schemas.values():
            ensure_theme_table(conn, schema)
        for city in (WARSAW, KIELCE):
            roles.add_city(conn, city, PASSWORD)
    urls = {city: _as(db_url, f"sdi_city_{city}") for city in (WARSAW, KIELCE)}
    for i, city in enumerate((WARSAW, KIELCE)):
        as_city = Settings(home=tmp_path / f"home{city}", database_url=urls[city])
        run_load(
            _lines(tmp_path, f"roads{city}.gpkg", 637000 + i * 1000, 2 + i, name="ul. Długa", road_class="municipal"),
            city=city,
            theme="roads",
            settings=as_city,
        )
        run_load(
            _lines(tmp_path, f"pipes{city}.gpkg", 637000 + i * 1000, 3 + i, network="water"),
            city=city,
            theme="utility_networks",
            settings=as_city,
        )
    return db_url, urls


def _load_id(db_url: str, city: str, theme: str = "roads") -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT load_id FROM sdi.layers WHERE city = %s AND theme = %s", [city, theme]).fetchone()[
            0
        ]


def _refused(url: str, statement: str, params: list | None = None) -> None:
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement, params)


def test_the_raster_path_attack_is_refused_by_the_database(two_cities, tmp_path):
    owner, urls = two_cities
    secret = str(tmp_path / "home" / "cluster.json")
    _refused(
        urls[WARSAW],
        "INSERT INTO sdi.loads (city, theme, source, feature_count, reject_count)"
        f" VALUES ('{WARSAW}', 'noise_map', 'x', 0, 0)",
    )
    _refused(
        urls[WARSAW],
        "INSERT INTO sdi.rasters (load_id, path, width, height, bands, dtype, resolution, bytes,"
        " bounds) VALUES (%s, %s, 1, 1, 1, 'uint8', 1, 1, ST_MakeEnvelope(0, 0, 1, 1, 2180))",
        [_load_id(owner, WARSAW), secret],
    )
    _refused(urls[WARSAW], f"INSERT INTO sdi.layers VALUES ('{WARSAW}', 'noise_map', %s)", [_load_id(owner, WARSAW)])
    _refused(urls[WARSAW], "UPDATE sdi.loads SET state = 'begun'")
    _refused(
        urls[WARSAW],
        "INSERT INTO sdi.rejects (load_id, source_index, reason) VALUES (%s, 0, 'x')",
        [_load_id(owner, WARSAW)],
    )
    with psycopg.connect(owner) as conn:
        assert conn.execute("SELECT count(*) FROM sdi.rasters").fetchone()[0] == 0


@pytest.mark.parametrize(
    "name",
    [
        "{secret}",
        "../../cluster.json",
        "noise_map/{city}/../../../cluster.json",
        f"noise_map/{{city}}/{STAMP}\n",
        f"noise_map/{{other}}/{STAMP}",
        f"elevation/{{city}}/{STAMP}",
        f"/abs/noise_map/{{city}}/{STAMP}",
        "noise_map/{city}/20250101T120000-0A1B2C3D.tif",
    ],
)
def test_a_raster_name_must_be_one_the_server_writes(two_cities, tmp_path, name):
    _, urls = two_cities
    name = name.format(secret=tmp_path / "home" / "cluster.json", city=WARSAW, other=KIELCE)
    with psycopg.connect(urls[WARSAW]) as conn:
        load = conn.execute(
            "SELECT sdi.begin_load(%s, 'noise_map', 'x', NULL, '{}', NULL, NULL, NULL, NULL, NULL)", [WARSAW]
        ).fetchone()[0]
        args = [load, name, 1, 1, 1, "uint8", None, 1.0, 1, None, None, 0, 0, 1, 1]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be named"):
            conn.execute("SELECT sdi.add_raster(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", args)
        conn.rollback()
        # the name the server itself writes is accepted, and can be published once the load is finished
        load = conn.execute(
            "SELECT sdi.begin_load(%s, 'noise_map', 'x', NULL, '{}', NULL, NULL, NULL, NULL, NULL)", [WARSAW]
        ).fetchone()[0]
        args[:2] = [load, f"noise_map/{WARSAW}/{STAMP}"]
        conn.execute("SELECT sdi.add_raster(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", args)
        conn.execute("SELECT sdi.finish_load(%s, 1, 0)", [load])
        conn.execute("SELECT sdi.set_current(%s, 'noise_map', %s)", [WARSAW, load])


def test_a_city_cannot_publish_another_citys_load(two_cities, tmp_path):
    owner, urls = two_cities
    kielce = _load_id(owner, KIELCE)
    with psycopg.connect(owner) as conn:
        before = conn.execute("SELECT count(*) FROM data.roads").fetchone()[0]
        roles.add_city(conn, KRAKOW, PASSWORD)  # a city with no roads of its own, as in the issue
    _refused(_as(owner, f"sdi_city_{KRAKOW}"), f"INSERT INTO sdi.layers VALUES ('{KRAKOW}', 'roads', %s)", [kielce])
    _refused(_as(owner, f"sdi_city_{KRAKOW}"), f"SELECT sdi.set_current('{KRAKOW}', 'roads', %s)", [kielce])
    _refused(urls[WARSAW], f"SELECT sdi.set_current('{WARSAW}', 'roads', %s)", [kielce])
    _refused(urls[WARSAW], f"SELECT sdi.set_current('{KIELCE}', 'roads', %s)", [_load_id(owner, WARSAW)])
    # not even the owner's own function lets a layer point at another city's or theme's load
    _refused(owner, f"SELECT sdi.set_current('{WARSAW}', 'roads', %s)", [kielce])
    _refused(owner, f"SELECT sdi.set_current('{KIELCE}', 'buildings', %s)", [kielce])
    with psycopg.connect(owner) as conn:
        assert conn.execute("SELECT count(*) FROM data.roads").fetchone()[0] == before == 5
        # Kielce loads again: its older version is no longer published, and history shows one current version
    run_load(
        _lines(tmp_path, "again.gpkg", 639000, 4, name="ul. Nowa", road_class="municipal"),
        city=KIELCE,
        theme="roads",
        settings=Settings(home=tmp_path / "again", database_url=urls[KIELCE]),
    )
    with psycopg.connect(owner) as conn:
        assert conn.execute("SELECT count(*) FROM data.roads WHERE city = %s", [KIELCE]).fetchone()[0] == 4
        assert sum(v["current"] for v in history(conn, KIELCE, "roads")) == 1


def test_only_a_finished_load_becomes_current_and_it_is_never_reopened(two_cities):
    _, urls = two_cities
    with psycopg.connect(urls[WARSAW]) as conn:
        load = conn.execute(
            "SELECT sdi.begin_load(%s, 'roads', 'x', NULL, '{}', NULL, NULL, NULL, NULL, NULL)", [WARSAW]
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO history.roads (city, load_id, geom) VALUES (%s, %s, 'SRID=2180;MULTILINESTRING((0 0,1 1))')",
            [WARSAW, load],
        )
        conn.commit()  # a begun load, left behind by hand
    _refused(urls[WARSAW], f"SELECT sdi.set_current('{WARSAW}', 'roads', %s)", [load])
    _refused(urls[WARSAW], "SELECT sdi.finish_load(%s, 99, 0)", [load])  # the counts are checked against the rows
    with psycopg.connect(urls[WARSAW]) as conn:
        conn.execute("SELECT sdi.finish_load(%s, 1, 0)", [load])
    for statement in (
        "SELECT sdi.finish_load(%s, 1, 0)",
        "SELECT sdi.add_rejects(%s, '[]')",
        (
            "INSERT INTO history.roads (city, load_id, geom) VALUES ('1465011', %s,"
            " 'SRID=2180;MULTILINESTRING((0 0,1 1))')"
        ),
    ):
        _refused(urls[WARSAW], statement, [load])


def test_history_rows_only_for_the_citys_own_unfinished_load_of_that_theme(two_cities):
    owner, urls = two_cities
    rows = "INSERT INTO history.roads (city, load_id, geom) VALUES (%s, %s, 'SRID=2180;MULTILINESTRING((0 0,1 1))')"
    _refused(urls[WARSAW], rows, [WARSAW, _load_id(owner, WARSAW)])  # its own published version
    _refused(urls[WARSAW], rows, [WARSAW, _load_id(owner, KIELCE)])
    _refused(urls[WARSAW], rows, [WARSAW, _load_id(owner, WARSAW, "utility_networks")])


def test_views_publish_rows_only_under_their_own_citys_load(two_cities):
    owner, _ = two_cities
    with psycopg.connect(owner) as conn:  # a row of Warsaw filed under Kielce's current load
        conn.execute(
            "INSERT INTO history.roads (city, load_id, geom) VALUES (%s, %s, 'SRID=2180;MULTILINESTRING((0 0,1 1))')",
            [WARSAW, _load_id(owner, KIELCE)],
        )
        assert conn.execute("SELECT count(*) FROM data.roads WHERE city = %s", [WARSAW]).fetchone()[0] == 2


def test_a_city_login_sees_only_its_own_rows_of_a_restricted_theme(two_cities):
    owner, urls = two_cities
    query = "SELECT city, count(*) FROM data.utility_networks GROUP BY city ORDER BY city"
    for city, count in ((WARSAW, 3), (KIELCE, 4)):
        with psycopg.connect(urls[city]) as conn:
            assert conn.execute(query).fetchall() == [(city, count)]
            conn.execute("SET ROLE sdi_loader")  # the group has no city: it must not see more
            assert conn.execute(query).fetchall() in ([(city, count)], [])
            conn.execute("RESET ROLE")
            assert len(conn.execute("SELECT DISTINCT city FROM data.roads").fetchall()) == 2  # public: all
    with psycopg.connect(owner) as conn:
        assert conn.execute(query).fetchall() == [(WARSAW, 3), (KIELCE, 4)]
        reader = roles.ensure_reader(conn, owner)
    with psycopg.connect(reader) as conn:
        assert conn.execute(query).fetchall() == [(WARSAW, 3), (KIELCE, 4)]  # the API filters by token


def test_a_token_answers_with_its_scope(two_cities):
    owner, _ = two_cities
    with psycopg.connect(owner) as conn:
        city_token, all_token = tokens.add(conn, "wodociagi", KIELCE), tokens.add(conn, "urzad")
        gone = tokens.add(conn, "former")
        tokens.revoke(conn, "former")
        reader = roles.ensure_reader(conn, owner)
    with psycopg.connect(reader) as conn:
        scope = "SELECT valid, city FROM data.sdi_token_scope(%s)"
        assert conn.execute(scope, [tokens.digest(city_token)]).fetchall() == [(True, KIELCE)]
        assert conn.execute(scope, [tokens.digest(all_token)]).fetchall() == [(True, None)]
        assert conn.execute(scope, [tokens.digest(gone)]).fetchall() == [(False, None)]
        assert conn.execute(scope, [tokens.digest("sdi_nothing")]).fetchall() == [(False, None)]
        assert conn.execute("SELECT data.sdi_token_valid(%s)", [tokens.digest(city_token)]).fetchone()[0] is True


def test_an_exception_before_publishing_rolls_the_whole_load_back(settings, db_url, tmp_path):
    from sdi.core.catalogue import Provenance
    from sdi.loader import load as loader

    schema = registry().schemas["roads"]
    # a harmonised frame, as sdi.pipeline hands it over
    frame = gpd.GeoDataFrame(
        {"city": [WARSAW] * 3, "source_id": ["1", "2", "3"], **{f: [None] * 3 for f in schema.fields}},
        geometry=[MultiLineString([[(637000 + i, 485000), (637000 + i, 487000)]]) for i in range(3)],
        crs=2180,
    )
    seen = []

    def refuse(stored: int, rejected: int) -> None:
        seen.append((stored, rejected))
        raise LoadError("stored nothing worth publishing", "fix the file")

    with psycopg.connect(db_url) as conn:
        migrate(conn)
        ensure_theme_table(conn, schema)
        with pytest.raises(LoadError, match="worth publishing"):
            loader.load(
                conn,
                [(frame, [])],
                city=WARSAW,
                schema=schema,
                provenance=Provenance("r.gpkg", None, {}),
                before_publish=refuse,
            )
        assert seen == [(3, 0)]
        assert conn.execute("SELECT count(*) FROM sdi.loads").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM history.roads").fetchone()[0] == 0


@pytest.mark.parametrize(
    "statement",
    [
        "GRANT pg_execute_server_program TO sdi",
        "GRANT pg_read_server_files TO sdi",
        "ALTER ROLE sdi SUPERUSER",
        "ALTER ROLE sdi CREATEROLE",
        "CREATE ROLE intruder SUPERUSER",
        "COPY (SELECT 1) TO PROGRAM 'id'",
        "SELECT pg_read_file('/etc/passwd')",
        "COPY sdi.loads FROM '/etc/passwd'",
        (
            "CREATE OR REPLACE FUNCTION sdi_admin.city_login(p_city text, p_password text) RETURNS text"
            " LANGUAGE sql AS 'SELECT 1::text'"
        ),
        "SELECT sdi_admin.city_login('1465011; DROP ROLE sdi_admin', 'long-enough-password')",
    ],
)
def test_the_owner_cannot_become_superuser_nor_reach_server_files(db_url, statement):
    with psycopg.connect(db_url) as conn:
        assert (
            conn.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone()[0]
            is False
        )
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidParameterValue)):
            conn.execute(statement)


def test_the_embedded_cluster_owner_is_unprivileged_and_an_older_cluster_is_converted(tmp_path):
    import json

    from sdi.core.cluster import Cluster

    home = tmp_path / "own"
    home.mkdir(mode=0o700)
    cluster = Cluster(Settings(home=home))
    owner_is = "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
    try:
        state = cluster.start()
        assert oct(cluster.state_file.stat().st_mode & 0o777) == "0o600"
        with psycopg.connect(state.url()) as conn:
            assert conn.execute(owner_is).fetchone() == (False, False)
        # An sdi before issue 16: no admin in cluster.json, and the owner a superuser.
        with psycopg.connect(state.admin_url("postgres"), autocommit=True) as conn:
            conn.execute("ALTER ROLE sdi SUPERUSER")
        old = json.loads(cluster.state_file.read_text())
        old.pop("admin_password")
        cluster.state_file.write_text(json.dumps(old))
        cluster.stop()
        state = cluster.start()
        assert state.admin_password and state.admin_password != json.loads(json.dumps(old)).get("admin_password")
        with psycopg.connect(state.url()) as conn:
            assert conn.execute(owner_is).fetchone() == (False, False)
        with psycopg.connect(state.admin_url()) as conn:
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    finally:
        cluster.destroy()
