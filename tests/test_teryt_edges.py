"""One rule for a gmina's TERYT code at every edge: seven ASCII digits, nothing before or after.

`re.match(r"^[0-9]{7}$")` accepts "2699011\\n" ($ matches before a final newline), and str.isdigit()
accepts digits such as "²" or Arabic-Indic ones; the URL `/qgis-project?city=2699011%0A` passed the
check that way (issue 16).
"""

from __future__ import annotations

import pytest

from sdi.core import sqlfiles
from sdi.core.errors import ConfigError

from conftest import run_sdi

_BAD = [
    "2699011\n",
    "2699011\r\n",
    "\n2699011",
    " 2699011",
    "269901²",
    "٢٦٩٩٠١١",
    "26990111",
    "269901",
    "",
    "2699O11",
    None,
    2699011,
]


@pytest.mark.parametrize("value", _BAD)
def test_anything_but_seven_ascii_digits_is_not_a_city(value):
    assert not sqlfiles.is_city(value)
    with pytest.raises(ConfigError):
        sqlfiles.check_city(value)  # type: ignore[arg-type]


def test_a_city_code_is_accepted_as_it_is():
    assert sqlfiles.is_city("2699011") and sqlfiles.check_city("1465011") == "1465011"


@pytest.mark.parametrize("theme", ["roads\n", "Roads", "roads;", "1roads", "a" * 64])
def test_a_theme_id_is_checked_by_the_same_full_match(theme):
    with pytest.raises(ConfigError):
        sqlfiles.check_theme(theme)


def test_the_cli_refuses_a_trailing_newline_in_one_line(db_url):
    done = run_sdi("history", "--city", "2699011\n", "--theme", "roads", env={"SDI_DATABASE_URL": db_url})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["2699011\n", "2699011\t", "٢٦٩٩٠١١", "269901²"])
def test_the_edge_type_refuses_control_characters_and_unicode_digits(value):
    from sdi.core import teryt

    with pytest.raises(teryt.NotTeryt):
        teryt.city(value)


def test_the_edge_type_forgives_spaces_and_reads_prgs_spelling():
    from sdi.core import teryt

    assert teryt.city(" 2699011 ") == "2699011" and teryt.city("146501_1") == "1465011"
