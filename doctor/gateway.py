"""Check 5, the HTTP gateway when one is given (``--web-url``): ``/readyz``, the Triton
address it forwards to and its circuit breaker's state."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from doctor.check import Check, fail, na, ok

logger = logging.getLogger(__name__)

READYZ = "/readyz"
_TARGET_KEYS = ("triton", "triton_url", "target", "upstream")


@dataclass(frozen=True)
class GatewayFacts:
    url: str
    status: int | None  # HTTP status; None when nothing answered
    body: str
    error: str | None = None


def readyz(web_url: str, timeout_s: float) -> GatewayFacts:
    base = web_url if "://" in web_url else f"http://{web_url}"
    url = base.rstrip("/") + READYZ
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return GatewayFacts(
                url, response.status, response.read(4096).decode("utf-8", "replace")
            )
    except urllib.error.HTTPError as e:  # answered, not ready
        return GatewayFacts(url, e.code, e.read(4096).decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, ValueError) as e:
        return GatewayFacts(url, None, "", str(getattr(e, "reason", e)))


def triton_target(body: str) -> str | None:
    """The Triton address a ``/readyz`` JSON body names (``{"triton": "host:8001"}``,
    ``{"triton": {"url": ...}}``, ``triton_url``, ``target`` or ``upstream``), else None."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in _TARGET_KEYS:
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("url") or value.get("target")
        if isinstance(value, str) and value:
            return value
    return None


def breaker_state(body: str) -> str | None:
    """The circuit breaker's state a ``/readyz`` body names (``{"triton": {"breaker": ...}}``)."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    triton = data.get("triton") if isinstance(data, dict) else None
    state = triton.get("breaker") if isinstance(triton, dict) else None
    return state if isinstance(state, str) else None


def gateway_check(facts: GatewayFacts | None, triton_url: str) -> Check:
    name = "gateway"
    if facts is None:
        return na(name, "no --web-url given")
    target = triton_target(facts.body)
    aimed = f"forwards to Triton at {target}" if target else "names no Triton target"
    if facts.status is None:
        return fail(
            name,
            f"nothing answers at {facts.url} ({facts.error})",
            "start the gateway, or fix --web-url",
            blocking=True,
        )
    if facts.status != 200:
        snippet = " ".join(facts.body.split())[:160] or "empty body"
        return fail(
            name,
            f"{facts.url} answered {facts.status}: {snippet}; {aimed}",
            "the gateway's Triton must be up and ready: run this doctor with --url at it",
            blocking=True,
            status=facts.status,
            target=target,
        )
    breaker = breaker_state(facts.body)
    if breaker not in (None, "closed"):
        return fail(
            name,
            f"{facts.url} is up but its circuit breaker is {breaker}: Triton has failed for "
            f"longer than its --outage-grace, requests get 503 at once; {aimed}",
            "start the gateway's Triton (run this doctor with --url at it)",
            blocking=True,
            status=facts.status,
            target=target,
        )
    same = "" if target in (None, triton_url) else f" (this doctor checked {triton_url})"
    return ok(name, f"{facts.url} is ready; {aimed}{same}", status=200, target=target)
