"""Value conversion as Polish municipal files write values."""

from __future__ import annotations

import datetime as dt

import pytest

from sdi.loader.convert import Unconvertible, as_list, ascii_fold, convert


@pytest.mark.parametrize(
    "raw, kind, expected",
    [
        ("12,5", "number", 12.5),
        ("1 234,75", "number", 1234.75),
        (" 7 ", "integer", 7),
        ("12,0", "integer", 12),
        (5503.0, "string", "5503"),
        ("03.05.2021", "date", dt.date(2021, 5, 3)),
        ("3.05.2021 r.", "date", dt.date(2021, 5, 3)),
        ("2021-05-03", "date", dt.date(2021, 5, 3)),
        ("2021/05/03", "date", dt.date(2021, 5, 3)),
        ("tak", "boolean", True),
        ("N", "boolean", False),
        (1.0, "boolean", True),
        ("", "string", None),
        (float("nan"), "number", None),
    ],
)
def test_values_convert(raw, kind, expected):
    assert convert(raw, kind) == expected


@pytest.mark.parametrize(
    "raw, kind",
    [("dwanaście", "integer"), ("12,5", "integer"), ("31.02.2021", "date"), ("może", "boolean"), ("1.2.3", "number")],
)
def test_values_that_do_not_convert_are_refused(raw, kind):
    with pytest.raises(Unconvertible):
        convert(raw, kind)


def test_multi_value_fields_and_ascii_folding():
    assert as_list(["1122.Dw", "1230.Ph"]) == ["1122.Dw", "1230.Ph"]
    assert as_list("(2:1122.Dw,1230.Ph)") == ["1122.Dw", "1230.Ph"]
    assert as_list("1122.Dw") is None
    assert ascii_fold("Łąkowa Źródlana Świętokrzyska") == "Lakowa Zrodlana Swietokrzyska"
