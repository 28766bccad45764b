"""Option values as callers send them (form fields, query strings, JSON, Triton parameters,
the CLIs' flags): one set of words for yes and no, whole numbers, choices, field names.

Each parser takes the caller's name for the value and raises OptionError saying
"NAME: expected X, got Y".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

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
