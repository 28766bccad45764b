"""Parsing form, query and JSON values the way HTTP callers send them ("expected X, got Y")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from web.errors import BadRequest

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}


def parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE | FALSE:
        return text in TRUE
    raise BadRequest(f"{name}: expected true or false, got {str(value)[:50]!r}")


def parse_int(name: str, value: object, low: int, high: int | None = None) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.lstrip("-").isdigit():
        raise BadRequest(f"{name}: expected a whole number, got {text[:50]!r}")
    number = int(text)
    if number < low or (high is not None and number > high):
        bounds = f"{low}..{high}" if high is not None else f"≥ {low}"
        raise BadRequest(f"{name}: expected {bounds}, got {number}")
    return number


def reject_unknown(fields: Iterable[str], known: Iterable[str]) -> None:
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise BadRequest(f"expected fields from {', '.join(known)}, got {unknown[0]!r}")


def text_fields(fields: Mapping[str, object]) -> dict[str, str]:
    """Scalar fields as text (JSON numbers and booleans as callers would type them)."""
    return {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in fields.items()
        if v is not None
    }
