"""Every value parser is total: whatever text a caller sends (a form field, a ``cutout``
parameter, a CLI flag), the answer is a value or the project's own error with one line,
never a ValueError, OverflowError or anything else from Python (Hypothesis, derandomized)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.field_text import (
    FIELD_TEXT,
    HUGE_FLOAT,
    HUGE_INT,
    TOTAL,
    hostile_examples,
    one_line,
)
from u2net import cli as edge
from u2net.errors import InvalidRequest, OptionError
from u2net.job import parse_request
from u2net.options import (
    BG_IMAGE,
    OPTIONS,
    build_options,
    fields,
    from_parameters,
    parameter_names,
    parse_color,
    parse_position,
    parse_scale,
    to_parameters,
)
from u2net.values import (
    Length,
    parse_bool,
    parse_choice,
    parse_int,
    parse_lengths,
    parse_percent,
)

ONE_OF_EACH_KIND = list({row.kind: row for row in reversed(OPTIONS) if row.is_parameter}.values())
VALUE_PARSERS: dict[str, Callable[[str], object]] = {
    "parse_bool": lambda text: parse_bool("om", text),
    "parse_int": lambda text: parse_int("af", text),
    "parse_int 0..255": lambda text: parse_int("af", text, 0, 255),
    "parse_int >= 1": lambda text: parse_int("max_pixels", text, low=1),
    "parse_choice": lambda text: parse_choice("size", text, ("preview", "full"), "preview"),
    "parse_percent": lambda text: parse_percent("scale", text, 10, 100),
    "parse_lengths 1": lambda text: parse_lengths("margin", text, 1),
    "parse_lengths 4": lambda text: parse_lengths("roi", text, 4),
    "parse_color": lambda text: parse_color(text, "bgc"),
    "parse_scale": lambda text: parse_scale("scale", text),
    "parse_position": lambda text: parse_position("position", text),
    # the options' own parsers, as u2net.options.OPTIONS declares them: one option of each
    # kind (the rest of a kind differ only in range, which parse_int's cases above cover)
    **{f"option {row.name}": partial(row.parse, row.name) for row in ONE_OF_EACH_KIND},
}
CLI_TYPES = {
    name: getattr(edge, name)
    for name in (
        "positive_int", "non_negative_int", "positive_float", "port", "byte",
        "int_list", "color", "models",
    )
}  # fmt: skip
# every field build_options takes, as text (a background photo is bytes from an upload)
TEXT_FIELDS = [name for name in fields() if name != BG_IMAGE]


def answers(call: Callable[[], object], errors: type[Exception] | tuple[type[Exception], ...]):
    """The call's value; one of ``errors`` (whose one line is checked) passes as None."""
    try:
        return call()
    except errors as e:
        one_line(str(e))
        return None


@pytest.mark.parametrize("name", VALUE_PARSERS)
@TOTAL
@given(text=FIELD_TEXT)
@hostile_examples("text")
def test_every_value_parser_is_total(name: str, text: str) -> None:
    answers(lambda: VALUE_PARSERS[name](text), OptionError)


@pytest.mark.parametrize("name", CLI_TYPES)
@TOTAL
@given(text=FIELD_TEXT)
@hostile_examples("text")
def test_every_cli_argument_type_is_total(name: str, text: str) -> None:
    answers(lambda: CLI_TYPES[name](text), argparse.ArgumentTypeError)


@TOTAL
@given(values=st.dictionaries(st.sampled_from(TEXT_FIELDS), FIELD_TEXT, max_size=6))
@example(values={"roi": f"0 0 {HUGE_FLOAT}px 100%"})
@example(values={"roi": "0 0 1234567px 100%"})
@example(values={"shadow_opacity": HUGE_INT, "crop_margin": HUGE_INT})
@example(values={"alpha_matting": "true", "foreground_threshold": HUGE_INT})
def test_build_options_is_total_and_cutout_takes_what_it_builds(values: dict) -> None:
    """Options built from any fields, sent as ``cutout``'s parameters, parse again there (an
    roi of 1234567px once went as ``1.23457e+06px``, which no parser reads)."""
    options = answers(lambda: build_options(values), OptionError)
    if options is not None:
        from_parameters(to_parameters(options), options.bg_image)


PARAMETER_VALUES = st.one_of(FIELD_TEXT, st.booleans(), st.integers(-(2**63), 2**63 - 1))


@TOTAL
@given(parameters=st.dictionaries(st.sampled_from(parameter_names()), PARAMETER_VALUES, max_size=6))
@example(parameters={"roi": "0 0 1.23457e+06px 100%", "shadow_opacity": HUGE_INT})
@example(parameters={"max_pixels": HUGE_INT, "crop_margin": f"-{HUGE_INT}"})
def test_cutouts_parameters_are_total(parameters: dict) -> None:
    answers(lambda: parse_request(parameters), InvalidRequest)


@TOTAL
@given(value=st.floats(min_value=0, allow_nan=False, allow_infinity=False))
@example(value=1234567.0)
@example(value=1e300)
@example(value=1e-7)
def test_a_length_is_written_as_its_parser_reads_it(value: float) -> None:
    for length in (Length(value), Length(min(value, 100), percent=True)):
        assert parse_lengths("roi", str(length), 1) == (length,)


@pytest.mark.parametrize("text", ["inf", "Infinity", "1e999", "nan", "0", "-1"])
def test_a_positive_number_is_finite(text: str) -> None:
    """--timeout inf would wait for ever: refused as any other bad number."""
    with pytest.raises(argparse.ArgumentTypeError, match=f"expected a number > 0, got '{text}'"):
        CLI_TYPES["positive_float"](text)
