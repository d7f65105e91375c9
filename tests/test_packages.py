"""Issue 15: a BDOT10k county package loaded theme by theme with --all, and files that cover several gminas
(counted outside the city, --clip-to-city, --split-by-gmina), against a real PostGIS."""

from __future__ import annotations

import json

import psycopg

from bdot_package import PREFIX, RURAL, TOWN, write_package
from conftest import run_sdi


def _counts(db_url: str, theme: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute(f"SELECT city, count(*) FROM data.{theme} GROUP BY 1").fetchall())


def _loads(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT city, theme, feature_count FROM sdi.loads ORDER BY load_id").fetchall()


def test_a_bdot10k_package_loads_theme_by_theme_with_all(tmp_path, db_url):
    package = write_package(tmp_path / f"{PREFIX}.zip")
    report = tmp_path / "r.json"
    result = run_sdi(
        "load", str(package), "--city", TOWN, "--all", "--report", str(report), env={"SDI_DATABASE_URL": db_url}
    )
    assert result.returncode == 0, result.stderr
    # one version per mapped layer, the gmina outlines first; the forest layer has no mapping and is listed
    assert _loads(db_url) == [(TOWN, "administrative_units", 3), (TOWN, "buildings", 3), (TOWN, "roads", 6)]
    assert "not loaded: layer OT_PTLZ_A has no shipped mapping" in result.stderr
    data = json.loads(report.read_text())
    assert data["unmapped_layers"] == ["OT_PTLZ_A"]
    assert [r["source"]["layer"] for r in data["loads"]] == ["OT_ADJA_A", "OT_BUBD_A", "OT_SKDR_L"]
    roads = data["loads"][2]
    # the package covers the powiat: 2 roads lie in the rural gmina, counted and warned about, still loaded
    assert roads["outside_city"] == {"boundaries": True, "outside": 2, "action": "kept"}
    assert any("2 of 6 features lie outside gmina 0201011" in w for w in roads["warnings"])
    assert "2 of 6 features lie outside gmina 0201011" in result.stderr
    with psycopg.connect(db_url) as conn:
        name = conn.execute("SELECT name FROM data.roads ORDER BY name LIMIT 1").fetchone()[0]
        x = conn.execute("SELECT ST_X(ST_StartPoint(geom)) FROM data.roads ORDER BY name LIMIT 1").fetchone()[0]
    assert name == "ulica Łąkowa 0" and x % 1 == 0  # characters and positions as written


def test_clip_to_city_keeps_only_the_features_inside(tmp_path, db_url):
    package = write_package(tmp_path / "p.zip")
    env = {"SDI_DATABASE_URL": db_url}
    assert (
        run_sdi(
            "load",
            str(package),
            "--city",
            TOWN,
            "--layer",
            "OT_ADJA_A",
            "--theme",
            "administrative_units",
            "--mapping",
            "config/mappings/bdot10k/administrative_units.yaml",
            env=env,
        ).returncode
        == 0
    )
    report = tmp_path / "r.json"
    result = run_sdi(
        "load",
        str(package),
        "--city",
        TOWN,
        "--layer",
        "OT_SKDR_L",
        "--theme",
        "roads",
        "--mapping",
        "config/mappings/bdot10k/roads.yaml",
        "--clip-to-city",
        "--report",
        str(report),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert _counts(db_url, "roads") == {TOWN: 4}
    data = json.loads(report.read_text())
    assert (data["features_read"], data["features_loaded"], data["features_rejected"]) == (6, 4, 0)
    assert data["outside_city"]["action"] == "left out" and "were left out (--clip-to-city)" in result.stderr


def test_split_by_gmina_loads_each_gminas_own_version(tmp_path, db_url):
    package = write_package(tmp_path / "p.zip")
    env = {"SDI_DATABASE_URL": db_url}
    result = run_sdi("load", str(package), "--city", TOWN, "--all", "--split-by-gmina", env=env)
    assert result.returncode == 0, result.stderr
    assert _counts(db_url, "roads") == {TOWN: 4, RURAL: 2}
    assert _counts(db_url, "buildings") == {TOWN: 3}
    assert _counts(db_url, "administrative_units") == {TOWN: 3}  # the outlines are never split
    assert {(c, t) for c, t, _ in _loads(db_url)} == {
        (TOWN, "administrative_units"),
        (TOWN, "roads"),
        (RURAL, "roads"),
        (TOWN, "buildings"),
    }


def test_without_boundaries_the_warning_says_how_to_load_them(tmp_path, db_url):
    package = write_package(tmp_path / "p.zip", only=("OT_SKDR_L", "OT_BUBD_A"))
    env = {"SDI_DATABASE_URL": db_url}
    result = run_sdi(
        "load",
        str(package),
        "--city",
        TOWN,
        "--layer",
        "OT_SKDR_L",
        "--theme",
        "roads",
        "--mapping",
        "config/mappings/bdot10k/roads.yaml",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "no gmina boundaries are loaded" in result.stderr and "PRG's gmina layer" in result.stderr
    assert "--theme administrative_units --mapping config/mappings/prg/administrative_units.yaml" in result.stderr
    for flag in ("--clip-to-city", "--split-by-gmina"):
        refused = run_sdi(
            "load",
            str(package),
            "--city",
            TOWN,
            "--layer",
            "OT_SKDR_L",
            "--theme",
            "roads",
            flag,
            "--mapping",
            "config/mappings/bdot10k/roads.yaml",
            env=env,
        )
        assert refused.returncode == 3 and refused.stderr.count("\n") == 1, refused.stderr
        assert "PRG's gmina layer" in refused.stderr
    assert _counts(db_url, "roads") == {TOWN: 6}


def test_a_six_digit_city_is_resolved_only_by_loaded_boundaries(tmp_path, db_url):
    env = {"SDI_DATABASE_URL": db_url}
    package = write_package(tmp_path / "p.zip")
    history = ("rejects", "--theme", "roads", "--city")
    before = run_sdi(*history, TOWN[:6], env=env)
    assert before.returncode == 2 and before.stderr.count("\n") == 1
    assert "no loaded gmina boundary resolves it" in before.stderr and "Fix:" in before.stderr
    assert run_sdi(*history, "020101_1", env=env).returncode == 0  # PRG's form is normalised
    run_sdi("load", str(package), "--city", "020101_1", "--all", env=env)
    after = run_sdi(*history, TOWN[:6], env=env)
    assert after.returncode == 0 and "rejected nothing" in after.stdout, after.stderr  # the town's roads load
