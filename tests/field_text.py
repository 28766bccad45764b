"""Hostile field values for property tests (Hypothesis): any text, and the shapes random text
rarely finds: numbers of thousands of digits, numbers a float cannot hold, units, signs,
separators and the words the parsers look for. Deterministic: the same examples every run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, example, settings
from hypothesis import strategies as st

T = TypeVar("T")

# derandomized (the same examples each run, no database written), no deadline: a slow
# machine or a busy xdist worker must not fail a test
TOTAL = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)

# 309 digits: over a float's range (infinity); 4301: over int()'s limit on text
DIGIT_COUNTS = (1, 1, 2, 3, 20, 101, 309, 400, 4301, 5000)
SIGNS = ("", "", "", "-", "+")
UNITS = ("", "", "px", "px", "%", "%", " %", "PX", ".5", "e5", "e400", ".", "x")
WORDS = (
    "true", "false", "yes", "no", "on", "off", "original", "center", "none", "drop", "3D",
    "auto", "preview", "full", "png", "jpg", "zip", "rgba", "alpha", "clean", "rembg",
    "inf", "-inf", "nan", "NaN", "Infinity", "1e400", "-0", "+1", "0x10", "1_000", "٣٠", "²",
    "#fff", "#81d4fa77", "red", "rgb(1,2,3)", "hsl(10,20%,30%)", "rgb(999999999999,0,0)",
    "1,2,3", "1,2,3,4,5", "255,255,255,256", "http://[", "http://a:99999/", "data:,", "\x00",
    " ", "\t", "\n", "\u2028", "\ud7ff", "\U0010ffff",
)  # fmt: skip
# what found the 500s of issue 34, tried on every parser whatever the draw
HUGE_INT = "1" * 5000  # int() refuses text of over 4300 digits
HUGE_FLOAT = "1" * 400  # float() makes it infinity, which round() refuses
HOSTILE = (
    HUGE_INT, f"-{HUGE_INT}", f"{HUGE_FLOAT}px", f"{HUGE_FLOAT}%", f"{'9' * 308}%",
    f"0 0 {HUGE_FLOAT}px 100%", f"{HUGE_FLOAT}% {HUGE_FLOAT}%", f"{HUGE_INT},0,0",
    f"1,2,{HUGE_INT}", f"#{HUGE_INT}", "[" * 10_000, "1234567px", f"{'0' * 5000}7",
    f"-{'0' * 5000}", f"{'0' * 5000}.5%",
)  # fmt: skip
SEPARATORS = (" ", ",", "  ", "\t", ",,", "%", ";")


@st.composite
def long_numbers(draw: st.DrawFn) -> str:
    """A number, often of many digits, signed or not, with a unit or a decimal part."""
    sign = draw(st.sampled_from(SIGNS))
    zeros = "0" * draw(st.sampled_from((0, 0, 0, 5000)))
    digit = draw(st.sampled_from("0123456789"))
    count = draw(st.sampled_from(DIGIT_COUNTS))
    return f"{sign}{zeros}{digit * count}{draw(st.sampled_from(UNITS))}"


PIECES = st.one_of(
    st.sampled_from(WORDS),
    long_numbers(),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=12),
)
# one value of a field: a word or a number; several, as an roi, a colour or a position has;
# or any text at all
FIELD_TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(WORDS),
    long_numbers(),
    st.lists(long_numbers(), min_size=2, max_size=4).map(" ".join),
    st.lists(st.integers(0, 300).map(str), min_size=3, max_size=4).map(",".join),
    st.lists(PIECES, min_size=2, max_size=5).flatmap(
        lambda parts: st.sampled_from(SEPARATORS).map(lambda sep: sep.join(parts))
    ),
    st.text(),
)


def hostile_examples(name: str) -> Callable[[T], T]:
    """Each of HOSTILE as an explicit example for the test's argument ``name``."""

    def decorate(test: T) -> T:
        for value in HOSTILE:
            test = example(**{name: value})(test)
        return test

    return decorate


def one_line(message: str) -> None:
    """What a caller reads: one line, not empty, that an answer can encode."""
    assert message.strip(), "an empty message"
    assert len(message.splitlines()) == 1, message
    message.encode()  # no lone surrogates
