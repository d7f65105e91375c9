"""`check_source` refuses broken and hostile input before GDAL sees it; each wart is built here for real."""

from __future__ import annotations

import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from sdi.core.errors import InputError
from sdi.loader.safety import check_source

SDI_ROOT = Path(__file__).resolve().parent.parent
SHAPEFILE_EXTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _refused(path: Path, match: str, **kwargs) -> InputError:
    """Assert check_source refuses `path` with a message matching `match` and a fix to follow."""
    with pytest.raises(InputError, match=match) as info:
        check_source(path, **kwargs)
    assert info.value.fix, "every refusal must say what to do"
    return info.value


def _write_shapefile(folder: Path, stem: str = "x") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.shp"
    gpd.GeoDataFrame(
        {"nazwa": ["Łódź", "Gdańsk", "Źródła Wisły"]},
        geometry=[Point(19.45, 51.76), Point(18.64, 54.35), Point(18.98, 49.60)],
        crs=4326,
    ).to_file(path, encoding="utf-8")
    return path


def _zip(path: Path, files: dict[str, Path | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content if isinstance(content, bytes) else content.read_bytes())
    return path


@pytest.fixture
def shp(tmp_path) -> Path:
    """A good three-point shapefile with Polish names, alone in its folder."""
    return _write_shapefile(tmp_path / "good")


def test_good_shapefile_passes(shp):
    assert check_source(shp) is None


def test_missing_path(tmp_path):
    _refused(tmp_path / "nie_ma.shp", "no such file or folder")


def test_zero_byte_file(tmp_path):
    (tmp_path / "x.geojson").touch()
    _refused(tmp_path / "x.geojson", "the file is empty")


def test_plain_folder(tmp_path):
    _refused(tmp_path, re.escape(f"{tmp_path} is a folder"))


def test_filegdb_folder(tmp_path):
    gdb = tmp_path / "miasto.gdb"
    gpd.GeoDataFrame({"nazwa": ["Kraków"]}, geometry=[Point(19.94, 50.06)], crs=4326).to_file(gdb, driver="OpenFileGDB")
    assert check_source(gdb) is None
    fake = tmp_path / "fake.gdb"
    fake.mkdir()
    (fake / "readme.txt").write_text("nic")
    _refused(fake, "not a FileGDB folder")


@pytest.mark.parametrize("ext, role", [(".shx", "index"), (".dbf", "attributes")])
def test_missing_sidecar(shp, ext, role):
    shp.with_suffix(ext).unlink()
    _refused(shp, re.escape(f"the shapefile has no {ext} ({role}) beside it"))


def test_empty_sidecars(shp):
    shp.with_suffix(".cpg").write_bytes(b"")  # an empty optional sidecar is harmless
    assert check_source(shp) is None
    shp.with_suffix(".shx").write_bytes(b"")
    _refused(shp, re.escape(f"{shp.with_suffix('.shx')}: the file is empty"))


def test_uppercase_sidecars_pass(shp):
    shp.with_suffix(".dbf").rename(shp.with_suffix(".DBF"))
    shp.with_suffix(".shx").rename(shp.with_suffix(".SHX"))
    shp.rename(shp.with_suffix(".SHP"))
    assert check_source(shp.with_suffix(".SHP")) is None


def test_mixed_case_sidecar_gdal_ignores(shp):
    # GDAL opens only x.dbf or x.DBF; with x.Dbf it would read the layer without its attributes.
    shp.with_suffix(".dbf").rename(shp.with_suffix(".Dbf"))
    error = _refused(shp, "named x.Dbf, which GDAL does not find")
    assert error.fix == "rename it to x.dbf"


def test_random_bytes_named_shp(shp):
    shp.write_bytes(random.Random(0).randbytes(1024))
    _refused(shp, re.escape("not a shapefile (wrong header)"))


@pytest.mark.parametrize("ext, cut", [(".shp", 100), (".shx", 8), (".dbf", 10)])
def test_truncated(shp, ext, cut):
    part = shp.with_suffix(ext)
    data = part.read_bytes()
    part.write_bytes(data[:-cut])
    declared = len(data) - (ext == ".dbf")  # a .dbf ends with a 0x1A marker its header does not count
    _refused(
        shp, re.escape(f"the {ext} is truncated: its header says {declared} bytes, the file has {len(data) - cut}")
    )


def test_zip_deep_shapefile_passes(shp, tmp_path):
    archive = _zip(tmp_path / "deep.zip", {f"a/b/c/x{e}": shp.with_suffix(e) for e in SHAPEFILE_EXTS})
    assert check_source(archive) is None


def test_zip_shapefile_without_dbf(shp, tmp_path):
    archive = _zip(tmp_path / "nodbf.zip", {f"a/x{e}": shp.with_suffix(e) for e in (".shp", ".shx", ".prj")})
    _refused(archive, re.escape("a/x.shp: the shapefile has no .dbf (attributes)"))


def test_zip_sidecar_in_other_folder(shp, tmp_path):
    files = {f"a/x{e}": shp.with_suffix(e) for e in (".shp", ".shx")} | {"b/x.dbf": shp.with_suffix(".dbf")}
    _refused(_zip(tmp_path / "split.zip", files), "has no .dbf")


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(random.Random(1).randbytes(2048))
    _refused(path, "not a valid zip file")


def test_empty_zip(tmp_path):
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    _refused(tmp_path / "empty.zip", "the zip is empty")


def test_zip_of_pdf_only(tmp_path):
    archive = _zip(tmp_path / "docs.zip", {"dokumenty/plan.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 500})
    _refused(archive, r"the zip holds no vector layer \(it holds dokumenty/plan.pdf\)")


@pytest.mark.parametrize("name", ["../../evil.shp", "/abs/x.shp"])
def test_zip_slip_refused_and_nothing_written(shp, tmp_path, name):
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for ext in SHAPEFILE_EXTS:
            info = zipfile.ZipInfo("placeholder")
            info.filename = name[:-4] + ext  # set after construction, as a crafted archive would
            z.writestr(info, shp.with_suffix(ext).read_bytes())
    assert name in zipfile.ZipFile(archive).namelist()
    before = sorted(tmp_path.rglob("*"))
    _refused(archive, re.escape(f"the zip holds an entry that points outside the archive: {name}"))
    assert sorted(tmp_path.rglob("*")) == before
    for folder in (tmp_path.parent, tmp_path.parent.parent, Path("/")):
        assert not (folder / "evil.shp").exists()
    assert not Path("/abs/x.shp").exists()


def test_zip_symlink_entry(shp, tmp_path):
    archive = _zip(tmp_path / "link.zip", {f"x{e}": shp.with_suffix(e) for e in SHAPEFILE_EXTS})
    with zipfile.ZipFile(archive, "a") as z:
        info = zipfile.ZipInfo("x.cpg.lnk")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")
    _refused(archive, "points outside the archive: x.cpg.lnk")


def test_zip_bomb_over_limit(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"x.geojson": bytes(50 * 1024**2)})
    assert archive.stat().st_size < 1024**2  # 50 MB of zeros packs into some 50 KB
    error = _refused(archive, "the zip unpacks to 50 MB, over the limit of 10 MB", max_unzipped_bytes=10 * 1024**2)
    assert "SDI_MAX_UNZIPPED_MB" in error.fix


def test_zip_bomb_ratio_under_limit(tmp_path):
    archive = tmp_path / "ratio.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("x.geojson", bytes(150 * 1024**2))
    _refused(archive, "the zip entry x.geojson expands .* like a zip bomb")


def _forged_zip(path: Path, name: str, declared: int, real: int) -> Path:
    """A zip whose headers declare `declared` bytes for an entry whose deflate stream gives `real`.

    Zeros deflated with full flushes repeat byte for byte, so a GiB's stream is built in milliseconds.
    """
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflater.compress(bytes(1 << 20)) + deflater.flush(zlib.Z_FULL_FLUSH)
    data = block * (real >> 20) + deflater.flush(zlib.Z_FINISH)
    raw = name.encode()
    sizes = struct.pack("<III", 0, len(data), declared)  # crc, compressed, uncompressed (the lie)
    local = b"PK\x03\x04" + struct.pack("<HHHHH", 20, 0, 8, 0, 0) + sizes + struct.pack("<HH", len(raw), 0) + raw
    central = (
        b"PK\x01\x02"
        + struct.pack("<HHHHHH", 20, 20, 0, 8, 0, 0)
        + sizes
        + struct.pack("<HHHHHII", len(raw), 0, 0, 0, 0, 0, 0)
        + raw
    )
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)
    return path


def test_zip_with_forged_sizes_is_refused_by_what_it_inflates(tmp_path):
    """Issue 16: a zip declaring 50 MB that streams 1 GiB passed the check made on declared sizes."""
    archive = _forged_zip(tmp_path / "forged.zip", "x.geojson", declared=50 * 1024**2, real=1024**3)
    assert zipfile.ZipFile(archive).infolist()[0].file_size == 50 * 1024**2  # the directory's lie
    started = time.perf_counter()
    _refused(archive, "x.geojson inflates to more than the 50 MB it declares", max_unzipped_bytes=100 * 1024**2)
    assert time.perf_counter() - started < 5  # stops after some 50 MB, not after the whole GiB


def test_honest_zip_passes_the_inflation_count(shp, tmp_path):
    archive = _zip(tmp_path / "ok.zip", {f"a/b/x{ext}": shp.with_suffix(ext) for ext in SHAPEFILE_EXTS})
    check_source(archive, max_unzipped_bytes=1024**2)


_LAUGHS = (
    """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
"""
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + """]>
<gml:FeatureCollection xmlns:gml="http://www.opengis.net/gml"><gml:featureMember><Budynek>
<nazwa>&lol9;</nazwa><gml:pointProperty><gml:Point srsName="EPSG:2180"><gml:pos>500000 600000</gml:pos>
</gml:Point></gml:pointProperty></Budynek></gml:featureMember></gml:FeatureCollection>
"""
)


@pytest.mark.parametrize("suffix", [".gml", ".xml", ".kml"])
def test_billion_laughs_is_refused_before_gdal(tmp_path, suffix):
    bomb = tmp_path / f"budynki{suffix}"
    bomb.write_text(_LAUGHS)
    _refused(bomb, "declares a DOCTYPE or entities")
    _refused(_zip(tmp_path / "b.zip", {f"dane/budynki{suffix}": bomb.read_bytes()}), "dane/budynki.* DOCTYPE")


def test_billion_laughs_in_utf16_is_refused(tmp_path):
    bomb = tmp_path / "budynki.gml"
    bomb.write_bytes(_LAUGHS.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"))
    _refused(bomb, "declares a DOCTYPE or entities")


# --- permissions: as a normal user chmod 0 is enough; root reads everything, so drop to `nobody` ---

_AS_NOBODY = """\
import sys
from sdi.core.errors import InputError
from sdi.loader.safety import check_source
try:
    check_source(sys.argv[1])
except InputError as exc:
    sys.exit(f"{exc.message} | {exc.fix}")
"""


RUNUSER = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
NOBODY_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(SDI_ROOT)}


def _as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RUNUSER, "-u", "nobody", "--", *argv], env=NOBODY_ENV, capture_output=True, text=True, check=False
    )


def _nobody_python() -> str | None:
    """An interpreter `nobody` may run that imports sdi; the venv's may live under a mode-700 /root."""
    if not RUNUSER:
        return None
    for exe in dict.fromkeys([sys.executable, shutil.which("python3"), "/usr/bin/python3"]):
        if exe and _as_nobody(exe, "-c", "import sdi.loader.safety").returncode == 0:
            return exe
    return None


@pytest.fixture
def open_dir():
    """A world-traversable folder, since pytest's tmp_path parents may be mode 700."""
    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.parametrize("locked", [".shp", ".dbf"])
def test_permission_denied(open_dir, locked):
    shp = _write_shapefile(open_dir / "data")
    os.chmod(open_dir / "data", 0o755)
    for ext in SHAPEFILE_EXTS:
        os.chmod(shp.with_suffix(ext), 0o644)
    target = shp.with_suffix(locked)
    if os.geteuid() != 0:
        os.chmod(target, 0)
        _refused(shp, re.escape(f"{target}: permission denied"))
        return
    python = _nobody_python()
    if python is None:
        pytest.skip("running as root and no interpreter the `nobody` user can run via runuser")
    os.chmod(target, 0o600)
    result = _as_nobody(python, "-c", _AS_NOBODY, str(shp))
    assert f"{target}: permission denied | ask for read access" in result.stderr, result.stderr
    assert result.returncode == 1
