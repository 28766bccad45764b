"""One reading of yes/no, whole numbers and choices for every caller, with "NAME: expected X,
got Y" errors."""

from __future__ import annotations

import pytest

from u2net.errors import OptionError
from u2net.values import parse_bool, parse_choice, parse_int, reject_unknown

YES = ["true", "True", "TRUE", "1", "yes", "Yes", "on", "ON", " true ", True, 1]
NO = ["false", "False", "0", "no", "NO", "off", "Off", "", "  ", False, 0]


@pytest.mark.parametrize("value", YES, ids=repr)
def test_yes_words(value: object) -> None:
    assert parse_bool("om", value) is True


@pytest.mark.parametrize("value", NO, ids=repr)
def test_no_words(value: object) -> None:
    assert parse_bool("om", value) is False


@pytest.mark.parametrize(
    ("value", "got"),
    [("maybe", "'maybe'"), ("y", "'y'"), ("2", "'2'"), (2, "2"), (None, "None"), (1.0, "1.0")],
)
def test_other_values_are_not_booleans(value: object, got: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_bool("om", value)
    assert str(info.value) == f"om: expected true or false, got {got}"


def test_a_long_bad_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(OptionError) as info:
        parse_bool("om", "x" * 500)
    assert str(info.value) == f"om: expected true or false, got {'x' * 50!r}"


@pytest.mark.parametrize(
    ("value", "expected"), [("240", 240), (" 7 ", 7), ("-3", -3), (0, 0), (12, 12)], ids=repr
)
def test_whole_numbers(value: object, expected: int) -> None:
    assert parse_int("af", value) == expected


@pytest.mark.parametrize("value", ["", "x", "1.5", "--5", "+-1", "²", "1_000", True, 2.0, None])
def test_other_values_are_not_whole_numbers(value: object) -> None:
    with pytest.raises(OptionError, match=r"^af: expected a whole number, got "):
        parse_int("af", value)


@pytest.mark.parametrize(
    ("low", "high", "value", "says"),
    [
        (0, 255, "256", "af: expected 0..255, got 256"),
        (0, 255, -1, "af: expected 0..255, got -1"),
        (1, None, "0", "af: expected a whole number ≥ 1, got 0"),
        (None, 9, 10, "af: expected a whole number ≤ 9, got 10"),
    ],
)
def test_numbers_out_of_range(low, high, value, says) -> None:
    with pytest.raises(OptionError) as info:
        parse_int("af", value, low, high)
    assert str(info.value) == says


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "png"), ("", "png"), ("WEBP", "webp"), (" jpg ", "jpg")]
)
def test_choices_ignore_case_and_default_when_empty(value, expected) -> None:
    assert parse_choice("format", value, ("png", "webp", "jpg"), "png") == expected


def test_an_unknown_choice_names_the_choices() -> None:
    with pytest.raises(OptionError) as info:
        parse_choice("format", "gif", ("png", "webp"), "png")
    assert str(info.value) == "format: expected one of png, webp, got 'gif'"


def test_unknown_names_are_refused_naming_the_known_ones() -> None:
    reject_unknown({"a": 1}, ("a", "b"))
    with pytest.raises(OptionError) as info:
        reject_unknown({"b": 1, "zz": 2, "c": 3}, ("a", "b"), what="parameters")
    assert str(info.value) == "expected parameters from a, b, got 'c'"
