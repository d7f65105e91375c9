"""A non-editable install works: schemas, code lists, styles, SQL and templates ship inside the wheel.

`pip install -e .` finds config/ and styles/ in the checkout; `pip install .` (or a wheel on a server) has
only what the wheel holds. This builds the wheel, installs it into a fresh venv, and runs `sdi check` and
`sdi demo --no-serve` from a folder far from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)])
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
    assert not any(Path(p).resolve().is_relative_to(ROOT) for p in located)

    _run([sdi, "demo", "--no-serve"], cwd=work, env=env)
    with psycopg.connect(db_url) as conn:
        counts = dict(conn.execute("SELECT theme, feature_count FROM data.sdi_layers WHERE NOT raster").fetchall())
    assert counts.get("buildings") == 60 and counts.get("roads") == 9, counts
