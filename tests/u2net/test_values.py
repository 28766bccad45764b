"""One reading of yes/no, whole numbers and choices for every caller, with "NAME: expected X,
got Y" errors."""

from __future__ import annotations

import pytest

from u2net.errors import OptionError
from u2net.values import (
    MAX_DIGITS,
    Length,
    parse_bool,
    parse_choice,
    parse_int,
    parse_lengths,
    reject_unknown,
)

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


@pytest.mark.parametrize(
    ("low", "high", "value", "says"),
    [
        (0, 100, "1" * 5000, "af: expected 0..100, got a number of 5,000 digits"),
        (None, None, "-" + "9" * 101, "af: expected a whole number, got a number of 101 digits"),
        (1, None, "7" * 4301, "af: expected a whole number ≥ 1, got a number of 4,301 digits"),
    ],
)
def test_numbers_of_more_digits_than_any_option_takes(low, high, value, says) -> None:
    """Python's int() refuses text of over 4300 digits with a ValueError (it was a 500)."""
    with pytest.raises(OptionError) as info:
        parse_int("af", value, low, high)
    assert str(info.value) == says


def test_leading_zeros_are_no_digits_of_a_number() -> None:
    assert parse_int("af", "0" * 5000 + "12", 0, 255) == 12
    assert parse_int("af", " -" + "0" * 5000 + " ") == 0
    assert parse_int("af", "9" * MAX_DIGITS) == int("9" * MAX_DIGITS)


@pytest.mark.parametrize("unit", ["", "px", "%"])
def test_a_length_a_float_cannot_hold_is_refused(unit: str) -> None:
    """400 digits are infinity as a float, which has no pixels (round() raised)."""
    with pytest.raises(OptionError) as info:
        parse_lengths("roi", f"0 0 {'1' * 400}{unit} 100%", 4)
    assert str(info.value).startswith(
        "roi: expected 4 lengths like 10px or 25% (at most 100%), got a number too large ('111"
    )


@pytest.mark.parametrize(
    ("length", "text"),
    [
        (Length(1234567), "1234567px"),
        (Length(1e20), "100000000000000000000px"),
        (Length(12.3456789), "12.3456789px"),
        (Length(30), "30px"),
        (Length(25, percent=True), "25%"),
        (Length(0.0000001, percent=True), "0.0000001%"),
    ],
)
def test_lengths_are_written_without_exponents(length: Length, text: str) -> None:
    """As the parser reads them (``1.23457e+06px`` was what ``cutout`` got for 1234567px)."""
    assert str(length) == text
    assert parse_lengths("roi", text, 1) == (length,)
