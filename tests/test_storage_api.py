"""Issue 17, serving side: the API's queries reach only the current loads' partitions of history.

The provider's own SQL is captured on a real connection of the API's reader and EXPLAINed there, with the
parameters it binds: a plan over the view that names an old version's partition has not been pruned.
"""

from __future__ import annotations

import contextlib
import re

import psycopg
import pytest
from psycopg.rows import dict_row
from shapely.geometry import box
from test_storage import CITY, OTHER, _versions

from sdi.core.roles import ensure_reader
from sdi.server import partition_scope, provider

THEME = "public_services"


class _Explaining:
    """A real connection that also EXPLAINs (with the same bound values) each query on the theme's view."""

    def __init__(self, conn: psycopg.Connection):
        self.conn, self.plans = conn, []

    def execute(self, query, params=None):
        text = query if isinstance(query, str) else query.as_string(self.conn)
        if f'"data"."{THEME}"' in text:
            rows = self.conn.execute("EXPLAIN (COSTS OFF) " + text, params).fetchall()
            self.plans.append("\n".join(r["QUERY PLAN"] for r in rows))
        return self.conn.execute(query, params)


class _Pool:
    def __init__(self, conn: _Explaining):
        self.conn = conn

    @contextlib.contextmanager
    def connection(self):
        yield self.conn


@pytest.fixture
def reader(db_url, monkeypatch):
    """The provider over the reader's connection, whose queries are EXPLAINed as they run."""
    with psycopg.connect(db_url, autocommit=True) as owner:
        url = ensure_reader(owner, db_url)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row, prepare_threshold=None) as conn:
        spy = _Explaining(conn)
        monkeypatch.setattr(provider, "pool", lambda: _Pool(spy))
        monkeypatch.setattr(partition_scope, "_VERSIONED", {})
        provider.theme_fields.cache_clear()
        yield spy, provider.SdiProvider({"name": "sdi", "type": "feature", "data": {"theme": THEME}})
    provider.theme_fields.cache_clear()


def _partitions_in(plan: str) -> set[str]:
    return set(re.findall(rf"{THEME}#(\d+)", plan))


class _Bbox(list):
    """bbox as sdi.server.pygeoapi_compat hands it over: the box, and the region it covers as .shape."""

    def __init__(self, *bounds: float):
        super().__init__(bounds)
        self.shape = box(*bounds)


def test_bbox_and_item_plans_touch_only_the_current_partitions(settings, db_url, tmp_path, reader):
    ids = _versions(settings, tmp_path, CITY, 5)
    other = _versions(settings, tmp_path, OTHER, 2)
    spy, prov = reader
    current = {str(ids[-1]), str(other[-1])}

    page = prov.query(limit=10, bbox=_Bbox(630_000, 480_000, 645_000, 495_000))
    assert len(page["features"]) == 10 and page["numberMatched"] == 104 + 101  # both cities' newest versions
    fid = page["features"][0]["id"]
    assert prov.get(fid)["id"] == fid
    assert len(spy.plans) == 3  # the count, the page, the item
    for plan in spy.plans[:2]:
        assert _partitions_in(plan) == current, plan  # the box meets both cities
    assert len(_partitions_in(spy.plans[2])) == 1 and _partitions_in(spy.plans[2]) <= current  # the item's own
    for plan in spy.plans:
        assert "Subplans Removed" not in plan  # pruned when planned, not at run time (then all are locked)

    # An item of an old version is not served: the pruned plan does not even look there.
    with psycopg.connect(db_url) as conn:
        old = conn.execute("SELECT fid FROM history.public_services WHERE load_id = %s LIMIT 1", [ids[0]]).fetchone()[0]
    with pytest.raises(provider.ProviderItemNotFoundError):
        prov.get(old)


def test_a_new_load_is_served_at_once(settings, db_url, tmp_path, reader):
    """The ids are read for each request: a worker that cached them would answer nothing for this city
    between the commit and its reload."""
    spy, prov = reader
    _versions(settings, tmp_path, CITY, 1)
    assert prov.query(limit=1000)["numberMatched"] == 100
    (tmp_path / "b").mkdir()
    newer = _versions(settings, tmp_path / "b", CITY, 2)[-1]
    assert prov.query(limit=1000)["numberMatched"] == 101
    assert _partitions_in(spy.plans[-1]) == {str(newer)}
