"""API keys: read from a file (one per line), compared in constant time, never logged."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from pathlib import Path

from web.errors import ConfigError, Forbidden

KEY_HEADER = "x-api-key"


def load_api_keys(path: Path) -> frozenset[str]:
    """One key per line; blank lines and ``#`` comments skipped. Refuses an empty file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"--api-keys-file {path}: cannot read: {e.strerror or e}") from e
    keys = frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    if not keys:
        raise ConfigError(f"--api-keys-file {path}: expected one key per line, got none")
    return keys


def key_matches(given: str, keys: Iterable[str]) -> bool:
    """Compare with every key, in constant time per key (no early exit)."""
    given_bytes = given.encode("utf-8")
    found = False
    for key in keys:
        found |= hmac.compare_digest(given_bytes, key.encode("utf-8"))
    return found


def presented_key(headers: dict[str, str] | object) -> str | None:
    """The key from ``X-Api-Key``, else from ``Authorization: Bearer`` (Prometheus scrapes)."""
    value = headers.get(KEY_HEADER)  # type: ignore[attr-defined]
    if value:
        return value
    authorization = headers.get("authorization") or ""  # type: ignore[attr-defined]
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def check_key(headers: object, keys: frozenset[str]) -> None:
    """Raise Forbidden unless ``keys`` is empty or the request presents one of them."""
    if not keys:
        return
    given = presented_key(headers)
    if given is None:
        raise Forbidden("missing API key: send it in the X-Api-Key header")
    if not key_matches(given, keys):
        raise Forbidden("invalid API key")
