"""Tests of encoding and CRS detection on shapefiles generated here, and on the shared real samples."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import Point

from sdi.core.errors import InputError
from sdi.loader.detect import (
    check_in_poland,
    describe_epsg,
    detect_encoding,
    guess_crs,
    inside_poland_mask,
    match_crs,
    parse_cpg,
)

STREETS = ["Świętokrzyska", "Łąkowa", "Źródlana", "Żeromskiego", "Marszałkowska", "Ogrodowa"]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WARSAW = (21.0, 52.23)

PUWG92_WKT = (
    'PROJCS["unnamed",GEOGCS["GRS 1980(IUGG, 1980)",DATUM["unknown",SPHEROID["GRS80",6378137,'
    '298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
    'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],'
    'PARAMETER["central_meridian",{lon0}],PARAMETER["scale_factor",{k}],'
    'PARAMETER["false_easting",{x0}],PARAMETER["false_northing",{y0}],UNIT["Meter",1]]'
)


def _shapefile(
    folder: Path, encoding: str, cpg: str | None = None, ldid: int | None = None, name: str = "ulice"
) -> Path:
    """A shapefile of Polish street names in `encoding`, its .cpg removed or rewritten, its LDID patched."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.shp"
    frame = gpd.GeoDataFrame({"ulica": STREETS}, geometry=[Point(600000 + i, 480000 + i) for i in range(6)], crs=2180)
    frame.to_file(path, encoding=encoding)
    path.with_suffix(".cpg").unlink()
    if cpg is not None:
        path.with_suffix(".cpg").write_text(cpg)
    if ldid is not None:
        with open(path.with_suffix(".dbf"), "r+b") as f:
            f.seek(29)
            f.write(bytes([ldid]))
    return path


def _streets(path: Path, codec: str) -> list[str]:
    return list(pyogrio.read_dataframe(path, encoding=codec)["ulica"])


@pytest.mark.parametrize("encoding, expected", [("cp1250", "cp1250"), ("iso-8859-2", "iso8859-2"), ("utf-8", "utf-8")])
def test_encoding_detected_from_content_without_cpg(tmp_path, encoding, expected):
    path = _shapefile(tmp_path, encoding)
    codec, source = detect_encoding(path)
    assert (codec, source) == (expected, "detected")
    assert _streets(path, codec) == STREETS


def test_utf8_with_a_field_cut_mid_character_is_still_utf8(tmp_path):
    path = _shapefile(tmp_path, "utf-8")
    dbf = path.with_suffix(".dbf")
    data = dbf.read_bytes()
    cut = data.index("ą".encode()) + 1
    dbf.write_bytes(data[:cut] + b" " + data[cut + 1 :])  # as a tool truncating at a byte count would leave it
    assert detect_encoding(path) == ("utf-8", "detected")


@pytest.mark.parametrize("ldid", [0x00, 0x03, 0x57])
def test_meaningless_ldid_falls_through_to_content(tmp_path, ldid):
    path = _shapefile(tmp_path, "iso-8859-2", ldid=ldid)
    assert detect_encoding(path) == ("iso8859-2", "detected")


def test_ldid_c8_means_cp1250(tmp_path):
    path = _shapefile(tmp_path, "cp1250", ldid=0xC8)
    codec, source = detect_encoding(path)
    assert (codec, source) == ("cp1250", "ldid")
    assert _streets(path, codec) == STREETS


@pytest.mark.parametrize(
    "text", ["ANSI 1250", "1250", "CP1250", "cp1250", "windows-1250", "Windows-1250\r\n", "\ufeffANSI 1250\n"]
)
def test_cpg_spellings_of_cp1250(tmp_path, text):
    path = _shapefile(tmp_path, "cp1250", cpg=text)
    codec, source = detect_encoding(path)
    assert (codec, source) == ("cp1250", "cpg")
    assert _streets(path, codec) == STREETS


@pytest.mark.parametrize(
    "text, codec",
    [
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("65001", "utf-8"),
        ("ISO-8859-2", "iso8859-2"),
        ("ISO88592", "iso8859-2"),
        ("8859-2", "iso8859-2"),
        ("88592", "iso8859-2"),
        ("28592", "iso8859-2"),
        ("LATIN2", "iso8859-2"),
        ("ANSI 1252", "cp1252"),
        ("1252", "cp1252"),
        (" 852 ", "cp852"),
        ("what?", None),
        ("", None),
        ("hex", None),
    ],
)
def test_parse_cpg(text, codec):
    assert parse_cpg(text) == codec


def test_upper_case_cpg_beside_upper_case_shp(tmp_path):
    _shapefile(tmp_path, "iso-8859-2")
    for part in tmp_path.iterdir():
        part.rename(part.with_name(part.stem.upper() + part.suffix.upper()))
    (tmp_path / "ULICE.CPG").write_text("ISO-8859-2")
    codec, source = detect_encoding(tmp_path / "ULICE.SHP")
    assert (codec, source) == ("iso8859-2", "cpg")
    assert _streets(tmp_path / "ULICE.SHP", codec) == STREETS


def test_mixed_case_cpg_is_found(tmp_path):
    path = _shapefile(tmp_path, "cp1250")
    (tmp_path / "ulice.Cpg").write_text("1250")
    assert detect_encoding(path) == ("cp1250", "cpg")


def test_unparseable_cpg_falls_through(tmp_path, caplog):
    path = _shapefile(tmp_path, "cp1250", cpg="GARBAGE-PAGE")
    assert detect_encoding(path) == ("cp1250", "detected")
    assert "GARBAGE-PAGE" in caplog.text


def test_override_wins_and_is_normalised(tmp_path):
    path = _shapefile(tmp_path, "cp1250", cpg="UTF-8")
    assert detect_encoding(path, override="windows-1250") == ("cp1250", "override")
    assert detect_encoding(path, override="ISO-8859-2") == ("iso8859-2", "override")


@pytest.mark.parametrize("name", ["windows-1250-pl", "hex"])
def test_unknown_override_raises(tmp_path, name):
    path = _shapefile(tmp_path, "cp1250")
    with pytest.raises(InputError) as err:
        detect_encoding(path, override=name)
    assert err.value.message == f"--encoding {name}: not a known encoding"
    assert err.value.fix == "use e.g. cp1250, iso-8859-2 or utf-8"


def test_ascii_only_is_utf8(tmp_path):
    path = tmp_path / "a.shp"
    gpd.GeoDataFrame({"n": ["abc"]}, geometry=[Point(1, 1)], crs=2180).to_file(path, encoding="cp1250")
    path.with_suffix(".cpg").unlink()
    assert detect_encoding(path) == ("utf-8", "detected")


def _unnamed_prj_crs(tmp_path: Path, lon0, k, x0, y0) -> CRS:
    """Write a shapefile, replace its .prj by a hand-written Esri one, and read the CRS back as sdi would."""
    path = tmp_path / "p.shp"
    gpd.GeoDataFrame({"n": [1]}, geometry=[Point(1, 1)], crs=2180).to_file(path)
    path.with_suffix(".prj").write_text(PUWG92_WKT.format(lon0=lon0, k=k, x0=x0, y0=y0))
    return gpd.read_file(path).crs


def test_unnamed_prj_puwg1992_matched_by_parameters(tmp_path):
    crs = _unnamed_prj_crs(tmp_path, 19, 0.9993, 500000, -5300000)
    assert crs is not None
    assert match_crs(crs) == (2180, "parameters")


def test_unnamed_prj_puwg2000_zone7_matched_by_parameters(tmp_path):
    crs = _unnamed_prj_crs(tmp_path, 21, 0.999923, 7500000, 0)
    assert match_crs(crs) == (2178, "parameters")


def test_unnamed_prj_other_tmerc_does_not_match(tmp_path):
    crs = _unnamed_prj_crs(tmp_path, 19, 0.9996, 500000, 0)  # UTM-like: not a Polish system
    assert match_crs(crs)[0] != 2180


def test_match_crs_plain_codes():
    assert match_crs(None) == (None, "")
    assert match_crs(CRS.from_epsg(2180)) == (2180, "epsg")
    assert match_crs(CRS.from_epsg(4258)) == (4326, "epsg")
    assert match_crs(CRS.from_epsg(3857)) == (3857, "epsg")
    assert match_crs(CRS.from_proj4("+proj=longlat +ellps=GRS80 +no_defs")) == (4326, "parameters")


def _projected(epsg: int, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """n points scattered around Warsaw, in `epsg` with easting as x."""
    rng = np.random.default_rng(7)
    lon = WARSAW[0] + rng.uniform(-0.2, 0.2, n)
    lat = WARSAW[1] + rng.uniform(-0.1, 0.1, n)
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


@pytest.mark.parametrize("epsg", [4326, 2180, 2178, 3857])
def test_guess_crs_for_warsaw(epsg):
    assert guess_crs(*_projected(epsg)) == epsg


@pytest.mark.parametrize("lonlat, epsg", [((15.0, 53.4), 2176), ((18.6, 54.35), 2177), ((23.16, 53.13), 2179)])
def test_guess_crs_puwg2000_zones(lonlat, epsg):
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(*lonlat)
    assert guess_crs(np.array([x]), np.array([y])) == epsg


@pytest.mark.parametrize("epsg", [2180, 2178])
def test_stray_zero_point_does_not_change_guess(epsg):
    x, y = _projected(epsg)
    assert guess_crs(np.append(x, 0.0), np.append(y, 0.0)) == epsg
    assert guess_crs(np.append(x, np.nan), np.append(y, np.nan)) == epsg


def test_guess_crs_none_outside():
    assert guess_crs(np.array([2.35]), np.array([48.85])) is None  # Paris
    assert guess_crs(np.array([]), np.array([])) is None


def test_inside_poland_mask_uses_easting_as_x():
    x, y = _projected(2178, 10)
    assert inside_poland_mask(x, y, 2178).all()
    assert not inside_poland_mask(y, x, 2178).any()


def test_check_in_poland_names_the_right_crs():
    x, y = _projected(2178)
    with pytest.raises(InputError) as err:
        check_in_poland(x, y, 2180, "file")
    assert err.value.message == (
        "coordinates lie outside Poland in EPSG:2180; they look like EPSG:2178 (PUWG 2000 zone 7)"
    )
    assert err.value.fix == "rerun with --crs EPSG:2178"


def test_check_in_poland_passes_good_data_with_strays():
    x, y = _projected(2180)
    check_in_poland(np.append(x, [0.0, 0.0]), np.append(y, [0.0, 0.0]), 2180, "file")


def test_check_in_poland_swapped_and_unknown():
    lon, lat = _projected(4326)
    with pytest.raises(InputError) as err:
        check_in_poland(lat, lon, 4326, "file")
    assert err.value.message.endswith("they look like northing/easting swapped")
    assert err.value.fix == "swap the columns or rerun with the right --crs"
    with pytest.raises(InputError) as err:
        check_in_poland(np.full(5, 2.35), np.full(5, 48.85), 4326, "override")
    assert err.value.message == "coordinates lie outside Poland in EPSG:4326"
    assert err.value.fix == "check the coordinates, or give --crs"


def test_describe_epsg():
    assert [describe_epsg(c) for c in (2180, 2178, 4326, 3857)] == [
        "PUWG 1992",
        "PUWG 2000 zone 7",
        "WGS 84 lon/lat",
        "Web Mercator",
    ]


@pytest.fixture
def real_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


def test_real_repair_stations_without_prj_look_like_zone7(real_data):
    path = real_data / "warszawa_rowery" / "stacje_napraw.shp"
    xy = shapely.get_coordinates(pyogrio.read_dataframe(path, columns=[]).geometry.values)
    assert guess_crs(xy[:, 0], xy[:, 1]) == 2178
    check_in_poland(xy[:, 0], xy[:, 1], 2178, "guessed")


@pytest.mark.parametrize(
    "prj, epsg",
    [
        ("warszawa_rowery/Warszawa-Okolice.prj", 2178),
        ("warszawa_rowery/rowery_towerowe.prj", 2178),
        ("prg_panstwo/Panstwo.prj", 2180),
    ],
)
def test_real_prj_files(real_data, prj, epsg):
    assert match_crs(CRS.from_wkt((real_data / prj).read_text()))[0] == epsg


def test_real_cpg(real_data):
    assert detect_encoding(real_data / "warszawa_rowery" / "stacje_napraw.shp") == ("utf-8", "cpg")
