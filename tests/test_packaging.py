"""A non-editable install works: schemas, code lists, styles, SQL and templates ship inside the wheel.

`pip install -e .` finds config/ and styles/ in the checkout; `pip install .` (or a wheel on a server) has
only what the wheel holds. This builds the wheel, installs it alone into a fresh venv (the dependencies
are .venv's), and runs `sdi check` and `sdi demo --no-serve` from a folder far from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import psycopg

from conftest import ROOT


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{cmd[:3]}: {done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def test_a_wheel_installed_elsewhere_has_everything(tmp_path, db_url):
    wheels, venv, work = tmp_path / "wheels", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    # setuptools builds in the checkout; a build/ left there shadows PyPA's `build` for mypy (make lint)
    leftover = not (ROOT / "build").exists()
    try:
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)])
    finally:
        if leftover:
            shutil.rmtree(ROOT / "build", ignore_errors=True)
    (wheel,) = wheels.glob("sdi-*.whl")
    # The wheel alone goes into the new venv; its dependencies are the ones `make setup` installed, reached
    # through a .pth line (a plain path: the editable sdi's own .pth there is not run, so `import sdi` finds
    # the wheel's copy). Installing numpy, pandas, pyarrow and pygeoapi again took 50 of the test's 60 s.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = str(venv / "bin" / "python")
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    deps = sysconfig.get_paths()["purelib"]
    (Path(site) / "zz_sdi_dependencies.pth").write_text(deps + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", str(wheel)])
    # every requirement the wheel declares is met by what it can import (pip check reads the wheel's metadata)
    _run([python, "-m", "pip", "check"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDI_")}
    env.update(SDI_DATABASE_URL=db_url, SDI_HOME=str(work / ".sdi"))
    sdi = str(venv / "bin" / "sdi")

    checked = _run([sdi, "check"], cwd=work, env=env)
    assert "schemas" in checked.stdout and "mappings" in checked.stdout
    located = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from sdi.core.settings import get_settings as g; print(g().config_dir, g().styles_dir)",
        ],
        cwd=work,
        env=env,
    ).stdout.split()
    assert all(Path(p).resolve().is_relative_to(venv.resolve()) for p in located), located
    imported = _run([python, "-c", "import sdi; print(sdi.__file__)"], cwd=work, env=env).stdout.strip()
    assert Path(imported).resolve().is_relative_to(venv.resolve()), imported
    assert not any(Path(p).resolve().is_relative_to(ROOT) for p in located)

    _run([sdi, "demo", "--no-serve"], cwd=work, env=env)
    with psycopg.connect(db_url) as conn:
        counts = dict(conn.execute("SELECT theme, feature_count FROM data.sdi_layers WHERE NOT raster").fetchall())
    assert counts.get("buildings") == 60 and counts.get("roads") == 9, counts
