"""Option values as callers send them (form fields, query strings, JSON, Triton parameters,
the CLIs' flags): one set of words for yes and no, whole numbers, choices, field names,
percentages and lengths in pixels or percent.

Each parser takes the caller's name for the value and raises OptionError saying
"NAME: expected X, got Y".
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal

from u2net.errors import OptionError

TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off", ""})  # an empty form field is "not ticked"
SHOWN = 50  # characters of a bad value repeated in a message
WHOLE_NUMBER = re.compile(r"-?[0-9]+")
# digits a whole number may have: more is no option's value, and Python's int() refuses text
# of over 4300 digits (sys.get_int_max_str_digits) with a ValueError
MAX_DIGITS = 100


def shown(value: object) -> str:
    """A bad value as a message repeats it: text quoted and cut short, anything else as is."""
    return repr(value[:SHOWN]) if isinstance(value, str) else repr(value)


def parse_bool(name: str, value: object) -> bool:
    """``True``/``False``, ``1``/``0``, or a word of TRUE or FALSE (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = value.strip().lower() if isinstance(value, str) else None
    if word in TRUE | FALSE:
        return word in TRUE
    raise OptionError(f"{name}: expected true or false, got {shown(value)}")


def _bounds(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is None and high is None:
        return "a whole number"
    return f"a whole number ≥ {low}" if low is not None else f"a whole number ≤ {high}"


def _whole_number(name: str, text: str, low: int | None, high: int | None) -> int:
    """Decimal digits (a sign, surrounding spaces) -> int, at most MAX_DIGITS of them."""
    digits = text.strip()
    if not WHOLE_NUMBER.fullmatch(digits):
        raise OptionError(f"{name}: expected a whole number, got {shown(text)}")
    significant = digits.lstrip("-").lstrip("0")  # int() counts leading zeros too
    if len(significant) > MAX_DIGITS:
        raise OptionError(
            f"{name}: expected {_bounds(low, high)}, got a number of {len(significant):,} digits"
        )
    number = int(significant or "0")
    return -number if digits.startswith("-") else number


def parse_int(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """A whole number (an int, or its decimal digits as text) within ``low..high`` if given."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        number = _whole_number(name, value, low, high)
    else:
        raise OptionError(f"{name}: expected a whole number, got {shown(value)}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise OptionError(f"{name}: expected {_bounds(low, high)}, got {number}")
    return number


def parse_choice(name: str, value: object, choices: Collection[str], default: str) -> str:
    """One of ``choices`` (any case); absent or empty: ``default``."""
    word = str(value).strip().lower() if value is not None else ""
    word = word or default
    if word not in choices:
        raise OptionError(f"{name}: expected one of {', '.join(choices)}, got {shown(word)}")
    return word


def reject_unknown(given: Iterable[str], known: Iterable[str], what: str = "fields") -> None:
    """Every name in ``given`` is one of ``known``."""
    known = tuple(known)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise OptionError(f"expected {what} from {', '.join(known)}, got {unknown[0]!r}")


NUMBER = r"[0-9]+(?:\.[0-9]+)?"
PERCENT = re.compile(rf"({NUMBER})\s*%")
LENGTH = re.compile(rf"({NUMBER})\s*(px|%)?")


def finite_number(name: str, text: str, expected: str) -> float:
    """Digits with an optional decimal part (as NUMBER matched them) -> a finite float; more
    digits than a float holds would be infinity."""
    number = float(text)
    if not math.isfinite(number):
        raise OptionError(f"{name}: expected {expected}, got a number too large ({shown(text)})")
    return number


def plain_number(number: float) -> str:
    """A number as NUMBER reads it back: digits and a decimal point, never an exponent
    (``f"{1e20:g}"`` is ``1e+20``)."""
    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_percent(name: str, value: object, low: float, high: float) -> float:
    """``"N%"`` with ``low <= N <= high`` -> N / 100 (a fraction); a fraction passes as is."""
    if isinstance(value, float):
        return value
    match = PERCENT.fullmatch(value.strip()) if isinstance(value, str) else None
    number = float(match.group(1)) if match else None
    if number is None or not low <= number <= high:
        raise OptionError(f"{name}: expected {low:g}%..{high:g}%, got {shown(value)}")
    return number / 100


@dataclass(frozen=True)
class Length:
    """A length along one side of an image: pixels, or percent of that side."""

    value: float
    percent: bool = False

    def pixels(self, side: int) -> int:
        return round(side * self.value / 100) if self.percent else round(self.value)

    def __str__(self) -> str:
        return f"{plain_number(self.value)}{'%' if self.percent else 'px'}"


def parse_lengths(name: str, value: object, count: int) -> tuple[Length, ...]:
    """``count`` lengths separated by spaces, each ``N``/``Npx`` (pixels) or ``N%`` (0..100)."""
    if isinstance(value, tuple):
        return value
    parts = value.split() if isinstance(value, str) else []
    matches = [LENGTH.fullmatch(part) for part in parts]
    expected = f"{count} lengths like 10px or 25% (at most 100%)"
    lengths = [
        Length(finite_number(name, m.group(1), expected), m.group(2) == "%") for m in matches if m
    ]
    if (
        len(lengths) != count
        or len(parts) != count
        or any(length.percent and length.value > 100 for length in lengths)
    ):
        raise OptionError(f"{name}: expected {expected}, got {shown(value)}")
    return tuple(lengths)
