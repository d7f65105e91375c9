"""Property-based: malformed shapefile and DBF bytes never crash the reader or reach the user as a traceback.

Whatever hypothesis does to a valid shapefile (flip bytes in the .shp, .shx or .dbf, cut a file short),
reading it either works or fails with an SdiError, whose one-line message and fix are what the CLI shows.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from sdi.core.errors import SdiError
from sdi.loader.inspect import inspect_source
from sdi.loader.read import read

PARTS = (".shp", ".shx", ".dbf")


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    frame = gpd.GeoDataFrame(
        {"nazwa": ["Żłobek", "Szkoła", "Biblioteka"], "liczba": [1, 2, 3]},
        geometry=[Point(637000 + i, 486000 + i) for i in range(3)],
        crs=2180,
    )
    frame.to_file(folder / "punkty.shp", encoding="cp1250")
    return folder / "punkty.shp"


def _mutate(valid: Path, part: str, edits: list[tuple[int, int]], cut: int | None) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="sdi-fuzz-"))
    for f in valid.parent.glob("punkty.*"):
        shutil.copy(f, folder / f.name)
    target = folder / f"punkty{part}"
    data = bytearray(target.read_bytes())
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    target.write_bytes(bytes(data))
    return folder / "punkty.shp"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    part=st.sampled_from(PARTS),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_malformed_shapefiles_fail_cleanly(valid, part, edits, cut):
    path = _mutate(valid, part, edits, cut)
    try:
        source = read(path)
        for batch in source.batches():
            assert len(batch) <= 3
        inspect_source(path)
    except SdiError as exc:
        assert exc.message and "\n" not in exc.message  # one line for the user, with its fix
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
