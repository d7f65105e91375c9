"""Rasters: `sdi load-raster` writes a valid COG in EPSG:2180, records it like a vector load, and refuses bad input.

The fixtures (tests/raster_fixtures.py) are written with rasterio: an orthophoto tile pair, a float32 DEM in
PUWG 2000 zone 6, a classified noise map, and damaged files.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
from pyproj import Transformer
from rio_cogeo.cogeo import cog_validate

from sdi.core.catalogue import history, rollback
from sdi.pipeline import run_load_raster

import raster_fixtures as fx
from conftest import run_sdi

CITY = "2699011"


def _current(db_url: str, theme: str) -> tuple | None:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT load_id, path, width, height FROM data.sdi_rasters WHERE theme = %s AND city = %s", [theme, CITY]
        ).fetchone()


def _name(settings, path: str) -> str:
    """The catalogue keeps a COG's name relative to SDI_RASTER_DIR (issue 16)."""
    return str(Path(path).relative_to(settings.raster_dir_abs))


def test_two_orthophoto_tiles_mosaic_into_one_valid_cog(settings, db_url, tmp_path):
    west, east = fx.orthophoto_pair(tmp_path / "ortho")
    report = run_load_raster(tmp_path / "ortho", city=CITY, theme="orthophoto", settings=settings)
    assert report["source"]["tiles"] == 2 and (report["width"], report["height"]) == (400, 200)
    assert report["crs"] == "EPSG:2180" and report["dtype"] == "uint8" and report["bands"] == 3
    cog = report["cog"]["path"]
    assert cog_validate(cog, quiet=True)[0]
    with rasterio.open(cog) as out, rasterio.open(west) as w, rasterio.open(east) as e:
        assert out.crs.to_epsg() == 2180 and out.profile["blockxsize"] == 512
        mosaic = out.read()
        assert np.array_equal(mosaic[:, :, :200], w.read()) and np.array_equal(mosaic[:, :, 200:], e.read())
    assert _current(db_url, "orthophoto")[1] == _name(settings, cog)


def test_a_dem_in_puwg_2000_zone_6_is_reprojected_to_where_it_lies(settings, tmp_path):
    source = fx.dem(tmp_path / "nmt.tif")
    report = run_load_raster(source, city=CITY, theme="elevation", settings=settings)
    assert report["crs"] == "EPSG:2177" and report["resampling"] == "bilinear" and report["resolution_m"] == 2.0
    to_2180 = Transformer.from_crs(2177, 2180, always_xy=True)
    with rasterio.open(source) as src, rasterio.open(report["cog"]["path"]) as out:
        assert out.dtypes[0] == "float32" and out.nodata == -9999 and out.descriptions == ("height",)
        for row, col in ((60, 75), (100, 30), (30, 140)):
            x, y = src.xy(row, col)
            expected = src.read(1)[row, col]
            got = next(out.sample([to_2180.transform(x, y)]))[0]
            assert abs(got - expected) < 0.5, (row, col)  # bilinear: within the local slope, not shifted
        assert next(out.sample([to_2180.transform(*src.xy(5, 5))]))[0] == -9999  # nodata stays nodata
        assert cog_validate(report["cog"]["path"], quiet=True)[0]


def test_an_ascii_grid_without_crs_is_placed_by_its_coordinates_and_a_zip_is_read(settings, tmp_path):
    grid = fx.dem(tmp_path / "nmt.asc", crs=None, driver="AAIGrid")
    report = run_load_raster(grid, city=CITY, theme="elevation", settings=settings)
    assert report["crs"] == "EPSG:2177" and report["crs_source"] == "coordinates"
    assert any("EPSG:2177" in w for w in report["warnings"])
    archive = tmp_path / "nmt.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(fx.dem(tmp_path / "z" / "nmt.tif"), "dane/nmt.tif")
    assert run_load_raster(archive, city=CITY, theme="elevation", settings=settings)["crs_source"] == "file (epsg)"


def test_a_jpeg2000_orthophoto_is_read(settings, tmp_path):
    west, _ = fx.orthophoto_pair(tmp_path / "tiles")
    jp2 = tmp_path / "ortho.jp2"
    with rasterio.open(west) as src:
        profile = {k: v for k, v in src.profile.items() if k not in ("blockxsize", "blockysize", "tiled", "interleave")}
        with rasterio.open(jp2, "w", **{**profile, "driver": "JP2OpenJPEG", "quality": 100, "reversible": True}) as out:
            out.write(src.read())
        expected = src.read()
    report = run_load_raster(jp2, city=CITY, theme="orthophoto", settings=settings)
    with rasterio.open(report["cog"]["path"]) as out:
        assert np.array_equal(out.read(), expected)  # lossless JPEG2000 in, the same pixels out


def test_classes_are_resampled_nearest_and_stay_classes(settings, tmp_path):
    source = fx.noise_map(tmp_path / "halas.tif", crs="EPSG:2178")
    report = run_load_raster(source, city=CITY, theme="noise_map", settings=settings)
    assert report["resampling"] == "nearest"
    with rasterio.open(report["cog"]["path"]) as out:
        assert set(np.unique(out.read(1))) <= {0, 1, 2, 3, 4, 5}


def test_a_paletted_plan_drawing_is_expanded_to_rgb(settings, tmp_path):
    report = run_load_raster(
        fx.paletted_drawing(tmp_path / "rysunek.tif"), city=CITY, theme="plan_drawing", settings=settings
    )
    assert report["bands"] == 3 and "colour table" in report["warnings"][0]
    with rasterio.open(report["cog"]["path"]) as out:
        rgb = out.read()
    assert tuple(rgb[:, 30, 40]) == (255, 230, 0) and tuple(rgb[:, 5, 5]) == (255, 255, 255)


def test_versions_and_rollback_work_as_for_vectors(settings, db_url, tmp_path):
    first = run_load_raster(fx.noise_map(tmp_path / "a.tif"), city=CITY, theme="noise_map", settings=settings)
    second = run_load_raster(fx.noise_map(tmp_path / "b.tif"), city=CITY, theme="noise_map", settings=settings)
    assert _current(db_url, "noise_map")[1] == _name(settings, second["cog"]["path"])
    with psycopg.connect(db_url) as conn:
        assert [v["load_id"] for v in history(conn, CITY, "noise_map")] == [second["load_id"], first["load_id"]]
        rollback(conn, CITY, "noise_map", first["load_id"])
    assert _current(db_url, "noise_map")[:2] == (first["load_id"], _name(settings, first["cog"]["path"]))


def _garbage(path):
    path.write_bytes(b"II*\x00" + bytes(range(256)) * 4)  # a TIFF signature, then nothing a TIFF holds
    return path


@pytest.mark.parametrize(
    "make, theme, says",
    [
        (lambda p: fx.corrupt(p / "x.tif"), "noise_map", "cannot be read"),
        (lambda p: fx.header_bomb(p / "x.tif"), "noise_map", "megapixels), over the limit of 20,000"),
        (lambda p: fx.noise_map(p / "x.tif"), "orthophoto", "has 1 band(s); orthophoto expects 3"),
        (
            lambda p: fx.noise_map(p / "x.tif", dtype="uint16"),
            "noise_map",
            "holds uint16 values; noise_map stores uint8",
        ),
        (lambda p: fx.noise_map(p / "x.tif", crs=None, origin=(10.0, 50.0)), "noise_map", "do not tell which"),
        (lambda p: fx.noise_map(p / "x.tif", origin=(10_000.0, 50_000.0)), "noise_map", "outside Poland"),
        (lambda p: _garbage(p / "x.tif"), "noise_map", "cannot be read"),
        (lambda p: p / "nothing_here.tif", "noise_map", "no such file"),
    ],
)
def test_bad_rasters_get_one_line_and_change_nothing(db_url, tmp_path, make, theme, says):
    home = tmp_path / "home"
    good = run_sdi(
        "load-raster",
        str(fx.noise_map(tmp_path / "good.tif")),
        "--city",
        CITY,
        "--theme",
        "noise_map",
        env={"SDI_DATABASE_URL": db_url, "SDI_HOME": str(home)},
    )
    assert good.returncode == 0, good.stderr
    before, files = _current(db_url, "noise_map"), sorted((home / "rasters").rglob("*"))
    bad = run_sdi(
        "load-raster",
        str(make(tmp_path)),
        "--city",
        CITY,
        "--theme",
        theme,
        env={"SDI_DATABASE_URL": db_url, "SDI_HOME": str(home)},
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0] and "Fix:" in lines[0], bad.stderr
    assert _current(db_url, "noise_map") == before and sorted((home / "rasters").rglob("*")) == files


def test_the_cli_reports_as_json(db_url, tmp_path):
    fx.orthophoto_pair(tmp_path / "ortho")
    done = run_sdi(
        "load-raster",
        str(tmp_path / "ortho"),
        "--city",
        CITY,
        "--theme",
        "orthophoto",
        "--report",
        str(tmp_path / "r.json"),
        env={"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert {
        "load_id",
        "city",
        "theme",
        "source",
        "crs",
        "crs_source",
        "width",
        "height",
        "bands",
        "dtype",
        "nodata",
        "resolution_m",
        "bounds",
        "cog",
        "warnings",
        "duration_s",
    } <= set(report)
    assert report["cog"]["valid"] and f"load {report['load_id']}: orthophoto" in done.stdout
    listed = run_sdi("rasters", env={"SDI_DATABASE_URL": db_url, "SDI_HOME": str(tmp_path / "home")})
    assert "orthophoto" in listed.stdout and "400 x 200" in listed.stdout
