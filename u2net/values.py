"""Option values as callers send them (form fields, query strings, JSON, Triton parameters,
the CLIs' flags): one set of words for yes and no, whole numbers, choices, field names,
percentages and lengths in pixels or percent.

Each parser takes the caller's name for the value and raises OptionError saying
"NAME: expected X, got Y".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from u2net.errors import OptionError

TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off", ""})  # an empty form field is "not ticked"
SHOWN = 50  # characters of a bad value repeated in a message
WHOLE_NUMBER = re.compile(r"-?[0-9]+")


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
    return f"a whole number ≥ {low}" if low is not None else f"a whole number ≤ {high}"


def parse_int(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """A whole number (an int, or its decimal digits as text) within ``low..high`` if given."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and WHOLE_NUMBER.fullmatch(value.strip()):
        number = int(value)
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
        return f"{self.value:g}{'%' if self.percent else 'px'}"


def parse_lengths(name: str, value: object, count: int) -> tuple[Length, ...]:
    """``count`` lengths separated by spaces, each ``N``/``Npx`` (pixels) or ``N%`` (0..100)."""
    if isinstance(value, tuple):
        return value
    parts = value.split() if isinstance(value, str) else []
    matches = [LENGTH.fullmatch(part) for part in parts]
    lengths = [Length(float(m.group(1)), m.group(2) == "%") for m in matches if m]
    if (
        len(lengths) != count
        or len(parts) != count
        or any(length.percent and length.value > 100 for length in lengths)
    ):
        raise OptionError(
            f"{name}: expected {count} lengths like 10px or 25% (at most 100%), got {shown(value)}"
        )
    return tuple(lengths)
