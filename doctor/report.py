"""Render the checks: one text line each (✓ ok, ✗ failed with its fix, – not applicable), or
JSON for scripts and CI: a list of objects with the fields of
:class:`~doctor.check.Check`, described by ``report.schema.json`` (JSON Schema,
shipped beside this module; check names are unique, which a schema cannot say)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from doctor.check import Check, Status, blockers

SCHEMA = Path(__file__).with_name("report.schema.json")
MARKS = {Status.OK: "✓", Status.FAIL: "✗", Status.NA: "–"}
EXIT_OK = 0
EXIT_BLOCKED = 1


def render_line(check: Check) -> str:
    line = f"{MARKS[check.status]} {check.name}: {check.detail}"
    if check.status is Status.FAIL:
        line += f" → fix: {check.fix}"
    return line


def render_text(checks: Sequence[Check], deployment: str) -> str:
    lines = [render_line(c) for c in checks]
    blocking = blockers(checks)
    if blocking:
        names = ", ".join(c.name for c in blocking)
        lines.append(f"✗ {len(blocking)} problem(s) block the {deployment} deployment: {names}")
    else:
        lines.append(f"✓ nothing blocks the {deployment} deployment")
    return "\n".join(lines)


def render_json(checks: Sequence[Check]) -> str:
    return json.dumps([c.as_dict() for c in checks], indent=2, ensure_ascii=False)


def exit_code(checks: Sequence[Check]) -> int:
    return EXIT_BLOCKED if blockers(checks) else EXIT_OK
