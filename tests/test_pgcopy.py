"""The loader's binary COPY encoder (sdi.loader.pgcopy) against PostgreSQL's own: the bytes we send for a batch
must be the bytes PostGIS itself writes for the same rows with COPY ... TO STDOUT (FORMAT binary).

Binary COPY has no parser to forgive a wrong length or byte order, so the reference is the server's own send
functions (text, bigint, float8, boolean, date, and PostGIS's geometry_send, which writes EWKB).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from sdi.loader import load, pgcopy


def _server_bytes(conn: psycopg.Connection, query: str) -> bytes:
    with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
        data = b"".join(bytes(chunk) for chunk in copy)
    assert data.startswith(pgcopy.HEADER) and data.endswith(pgcopy.TRAILER)
    return data[len(pgcopy.HEADER) : -len(pgcopy.TRAILER)]


def _values_sql(rows: list[tuple]) -> str:
    def literal(v) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        if isinstance(v, dt.date):
            return f"DATE '{v.isoformat()}'"
        return repr(v)

    return ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)


def _postgis_ewkb(conn: psycopg.Connection, shapes) -> bytes:
    """The shapes as PostGIS sends them (geometry_send: EWKB), in order, in EPSG:2180."""
    wkb = ", ".join(f"'{shapely.to_wkb(s, hex=True, byte_order=1)}'" for s in shapes)
    query = (
        "SELECT ST_SetSRID(ST_GeomFromWKB(decode(w, 'hex')), 2180)"
        f" FROM unnest(ARRAY[{wkb}]) WITH ORDINALITY AS t(w, i) ORDER BY i"
    )
    return _server_bytes(conn, query)


def test_a_batch_of_every_field_type_is_byte_for_byte_what_postgresql_writes(db_url):
    rows = [
        ("Przedszkole nr 1 „Słoneczko”", 120, 12.5, True, dt.date(2021, 3, 14)),
        (None, None, None, None, None),
        ("ul. Żeromskiego 7", -5, -0.25, False, dt.date(1999, 12, 31)),
        ("", 2**62, 1e300, None, dt.date(2000, 1, 1)),
    ]
    frame = pd.DataFrame(rows, columns=["name", "capacity", "height", "open", "since"]).astype(object)
    ours = pgcopy.rows(
        [
            pgcopy.text(frame["name"]),
            pgcopy.bigint(frame["capacity"]),
            pgcopy.double(frame["height"]),
            pgcopy.boolean(frame["open"]),
            pgcopy.date(frame["since"]),
        ]
    )
    query = (
        "SELECT v1::text, v2::bigint, v3::float8, v4::boolean, v5::date FROM (VALUES "
        + _values_sql(rows)
        + ") AS t(v1, v2, v3, v4, v5)"
    )
    with psycopg.connect(db_url) as conn:
        assert ours == _server_bytes(conn, query)


def test_points_written_from_their_coordinates_are_the_ewkb_postgis_sends(db_url):
    rng = np.random.default_rng(17)
    x, y = rng.uniform(170_000, 860_000, 300), rng.uniform(140_000, 780_000, 300)
    points = shapely.points(x, y)
    ours = load._geometry(gpd.GeoSeries(points, crs=2180).values)
    assert (ours.lengths == 25).all()  # the coordinate path, not GEOS's WKB
    with psycopg.connect(db_url) as conn:
        postgis = _postgis_ewkb(conn, points)
        assert pgcopy.rows([ours]) == postgis
        # and the general path (any geometry through shapely's WKB) agrees for the same points
        assert pgcopy.rows([pgcopy.ewkb(shapely.to_wkb(points, byte_order=1), 2180)]) == postgis


def test_polygons_and_multipolygons_go_through_wkb_and_match_postgis(db_url):
    shapes = [
        shapely.box(600_000, 480_000, 600_050, 480_030),
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]),
        shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 1)]]),
    ]
    ours = load._geometry(gpd.GeoSeries(shapes, crs=2180).values)
    with psycopg.connect(db_url) as conn:
        assert pgcopy.rows([ours]) == _postgis_ewkb(conn, shapes)
