"""The analysis of the demo's sample gmina, as `sdi demo` would run it: the sample has streets, buildings and
public services but no parcels and no green areas, so its units are the residential buildings, and the two green
standards fail everywhere with the reason said. The result is a collection of the API (access_buildings)."""

from __future__ import annotations

import json

import test_analysis
from click.testing import CliRunner

from sdi.core import catalogue
from sdi.core.catalogue import open_catalogue
from sdi.core.sample import SAMPLE_CITY
from sdi.pipeline import run_load

pgr_settings = test_analysis.pgr_settings  # the fixture: the test database with pgRouting


def test_the_sample_gmina_is_analysed_by_its_residential_buildings(pgr_settings, sample, tmp_path, monkeypatch):
    from sdi.cli.main import cli
    from sdi.core.settings import get_settings

    for theme, path in sample.items():
        run_load(path, city=SAMPLE_CITY, theme=theme, settings=pgr_settings)
    monkeypatch.setenv("SDI_DATABASE_URL", pgr_settings.database_url)
    monkeypatch.setenv("SDI_HOME", str(pgr_settings.home))
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(
            cli,
            [
                "analysis",
                "access",
                "--city",
                SAMPLE_CITY,
                "--units",
                "buildings",
                "--kinds",
                "kindergarten",
                "--report",
                str(tmp_path / "report"),
            ],
        )
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert "no green in the area" in done.output
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    gmina = next(a for a in summary["areas"] if a["level"] == "gmina")
    assert gmina["unit"] == "buildings" and gmina["parcels"] > 10 and gmina["school"] > 0.5
    assert {c["kind"] for c in summary["catchments"]} == {"primary_school", "kindergarten"}
    with open_catalogue(pgr_settings) as conn:
        assert "access_buildings" in catalogue.published_themes(conn)
        assert conn.execute("SELECT count(*) FROM data.access_buildings").fetchone()[0] == gmina["parcels"]
