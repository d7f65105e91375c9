"""Issue 17, the national latency goal: a request plans only the partitions it can touch, not every city's.

Each load's fid range and extent are recorded when it closes (migration 0014); sdi.server.partition_scope
binds only the loads an item, a bbox, a tile or an unfiltered page can reach. The plans are EXPLAINed on the
API reader's own connection (test_storage_api's fixture): a partition named in the plan was planned.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import psycopg
import pytest
from pyproj import Transformer
from test_storage_api import _Bbox, _partitions_in, _Pool, reader  # noqa: F401 - the fixture

from sdi.pipeline import run_load
from sdi.server import provider, tiles

WARSAW, KRAKOW = "1465011", "1261011"
# (x, y) of each city's cell in EPSG:2180, 10 km across
CELLS = {WARSAW: (630_000, 480_000), KRAKOW: (560_000, 240_000)}


def _load(settings, tmp_path, city: str, n: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    x0, y0 = CELLS[city]
    frame = gpd.GeoDataFrame(
        {"name": [f"{city}-{i}" for i in range(n)], "service_type": ["library"] * n},
        geometry=gpd.points_from_xy(rng.uniform(x0, x0 + 10_000, n), rng.uniform(y0, y0 + 10_000, n)),
        crs=2180,
    )
    path = tmp_path / f"{city}_{seed}.gpkg"
    frame.to_file(path)
    return run_load(path, city=city, theme="public_services", settings=settings).load_id


def test_a_load_records_where_its_rows_lie(settings, db_url, tmp_path):
    load = _load(settings, tmp_path, KRAKOW, 40)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT fid_min, fid_max, row_count, xmin, ymin, xmax, ymax FROM data.sdi_layers WHERE load_id = %s",
            [load],
        ).fetchone()
        truth = conn.execute(
            "SELECT min(fid), max(fid), count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)),"
            " ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom)) FROM history.public_services WHERE load_id = %s",
            [load],
        ).fetchone()
    assert row[:3] == truth[:3] and row[2] == 40
    assert np.allclose(row[3:], truth[3:])
    assert 560_000 <= row[3] < row[5] <= 570_000


def test_an_item_plans_only_the_load_that_holds_it(settings, db_url, tmp_path, reader):  # noqa: F811
    old = _load(settings, tmp_path, WARSAW, 30, seed=1)
    warsaw = _load(settings, tmp_path, WARSAW, 31, seed=2)
    krakow = _load(settings, tmp_path, KRAKOW, 32, seed=3)
    spy, prov = reader
    for load in (warsaw, krakow):
        fid = spy.conn.execute("SELECT fid_min FROM data.sdi_layers WHERE load_id = %s", [load]).fetchone()["fid_min"]
        assert prov.get(fid)["id"] == fid
        assert _partitions_in(spy.plans[-1]) == {str(load)}
    with psycopg.connect(db_url) as conn:
        old_fid = conn.execute("SELECT fid_min FROM sdi.loads WHERE load_id = %s", [old]).fetchone()[0]
    with pytest.raises(provider.ProviderItemNotFoundError):
        prov.get(old_fid)  # an old version's row is not served, and its partition is not planned
    assert str(old) not in _partitions_in("\n".join(spy.plans))


def test_a_bbox_plans_only_the_loads_whose_extent_it_meets(settings, tmp_path, reader):  # noqa: F811
    _load(settings, tmp_path, WARSAW, 50, seed=1)
    krakow = _load(settings, tmp_path, KRAKOW, 20, seed=2)
    spy, prov = reader
    x0, y0 = CELLS[KRAKOW]
    page = prov.query(limit=100, bbox=_Bbox(x0 - 1000, y0 - 1000, x0 + 11_000, y0 + 11_000))
    assert page["numberMatched"] == 20 and len(page["features"]) == 20
    assert all(_partitions_in(p) == {str(krakow)} for p in spy.plans)
    # A box between the cities plans nothing and answers an empty page, not an error.
    page = prov.query(limit=10, bbox=_Bbox(600_000, 350_000, 601_000, 351_000))
    assert page["features"] == [] and _partitions_in(spy.plans[-1]) == set()


def test_an_unfiltered_page_plans_the_loads_that_hold_it(settings, tmp_path, reader):  # noqa: F811
    first = _load(settings, tmp_path, WARSAW, 25, seed=1)
    second = _load(settings, tmp_path, KRAKOW, 15, seed=2)
    spy, prov = reader
    page = prov.query(limit=10)
    assert page["numberMatched"] == 40  # from the catalogue: every current row, though one load was read
    assert _partitions_in(spy.plans[-1]) == {str(first)}
    everything = prov.query(limit=100)
    assert len(everything["features"]) == 40 and _partitions_in(spy.plans[-1]) == {str(first), str(second)}
    fids = [f["id"] for f in everything["features"]]
    assert [f["id"] for f in prov.query(limit=10, offset=20)["features"]] == fids[20:30]
    assert _partitions_in(spy.plans[-1]) == {str(first), str(second)}


def test_a_load_without_a_recorded_range_is_never_pruned(settings, db_url, tmp_path, reader):  # noqa: F811
    first = _load(settings, tmp_path, WARSAW, 25, seed=1)
    second = _load(settings, tmp_path, KRAKOW, 15, seed=2)
    with psycopg.connect(db_url) as conn:  # as a load of before migration 0014 whose partition was pruned
        conn.execute("UPDATE sdi.loads SET fid_min = NULL, fid_max = NULL, row_count = NULL, extent = NULL")
    spy, prov = reader
    page = prov.query(limit=10)
    assert len(page["features"]) == 10 and page["numberMatched"] == 40
    assert _partitions_in(spy.plans[-1]) == {str(first), str(second)}


def test_a_tile_plans_only_the_loads_it_shows(settings, tmp_path, reader, monkeypatch):  # noqa: F811
    _load(settings, tmp_path, WARSAW, 30, seed=1)
    krakow = _load(settings, tmp_path, KRAKOW, 30, seed=2)
    spy, _ = reader
    monkeypatch.setattr(tiles, "pool", lambda: _Pool(spy))
    provider.theme_fields.cache_clear()  # the first load's publishing asked before the view existed
    tile = tiles.SdiTileProvider(
        {
            "name": "sdi.server.tiles.SdiTileProvider",
            "type": "tile",
            "data": {"theme": "public_services"},
            "options": {"zoom": {"min": 0, "max": 22}, "schemes": ["WebMercatorQuad"]},
            "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"},
        }
    )
    # the zoom-11 tile that holds the Kraków cell's centre
    x0, y0 = CELLS[KRAKOW]
    lon, lat = Transformer.from_crs(2180, 4326, always_xy=True).transform(x0 + 5000, y0 + 5000)
    n = 2**11
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    data = tile.get_tiles(tileset="WebMercatorQuad", z=11, x=x, y=y)
    assert _partitions_in(spy.plans[-1]) == {str(krakow)}
    assert data  # the tile shows Kraków's points


def test_a_short_filtered_page_counts_its_matches_without_a_count(settings, tmp_path, reader):  # noqa: F811
    """A bbox page shorter than its limit holds the last match: numberMatched is offset + its length, and no
    second query over the theme counts them; a full page still counts (bounded) and a page past the end too."""
    _load(settings, tmp_path, KRAKOW, 20, seed=2)
    spy, prov = reader
    x0, y0 = CELLS[KRAKOW]
    box = _Bbox(x0 - 1000, y0 - 1000, x0 + 11_000, y0 + 11_000)
    before = len(spy.plans)
    page = prov.query(limit=100, bbox=box)
    assert page["numberMatched"] == 20 and len(page["features"]) == 20
    assert len(spy.plans) - before == 1  # the page only
    page = prov.query(limit=5, offset=17, bbox=box)
    assert page["numberMatched"] == 20 and len(page["features"]) == 3
    before = len(spy.plans)
    page = prov.query(limit=5, bbox=box)
    assert page["numberMatched"] == 20 and len(page["features"]) == 5 and len(spy.plans) - before == 2
    page = prov.query(limit=5, offset=40, bbox=box)  # past the end: the empty page cannot say how many
    assert page["numberMatched"] == 20 and page["features"] == []


def test_a_bbox_page_reads_the_nearest_rows_from_the_index_not_every_match(settings, tmp_path, reader):  # noqa: F811
    """A full bbox page is the rows nearest the box's centre, which the GiST index hands over in that order, so the
    scan stops after one page. PostgreSQL chose to fetch and sort every match instead (a cost that grows with the
    box: 66-99 ms at 10M points against 1.3 ms) while it expected a few rows: `geom && box` beside ST_Intersects
    counted the box's selectivity twice, and `load_id = ANY` of one load left the view's join to default
    statistics (3 of these 1,251 matches expected)."""
    _load(settings, tmp_path, WARSAW, 20_000, seed=1)
    spy, prov = reader
    x0, y0 = CELLS[WARSAW]
    page = prov.query(limit=10, bbox=_Bbox(x0 + 2_000, y0 + 2_000, x0 + 4_500, y0 + 4_500))  # ~1,250 matches
    assert len(page["features"]) == 10
    plan = next(p for p in spy.plans if "LIMIT" not in p and "<->" in p)  # the page, not its bounded count
    assert "Order By: (geom <->" in plan and "Bitmap" not in plan and "Sort Key" not in plan.split("->")[1], plan
