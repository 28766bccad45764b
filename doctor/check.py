"""One line of the doctor's report, as plain data."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Deployment = Literal["cpu", "gpu"]
DEPLOYMENTS: tuple[Deployment, ...] = ("cpu", "gpu")


class Status(str, enum.Enum):
    OK = "ok"
    FAIL = "fail"
    NA = "na"  # not applicable to this host or deployment


@dataclass(frozen=True)
class Check:
    """A check's outcome. ``fix`` says what to run (required on failures); ``blocking`` marks
    a failure that stops the chosen deployment; ``data`` carries the numbers for scripts."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    blocking: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status is Status.FAIL and not self.fix:
            raise ValueError(f"check {self.name}: a failure needs a fix")
        if self.blocking and self.status is not Status.FAIL:
            raise ValueError(f"check {self.name}: only a failure can block")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
            "blocking": self.blocking,
            "data": dict(self.data),
        }


def ok(name: str, detail: str, **data: Any) -> Check:
    return Check(name, Status.OK, detail, data=data)


def na(name: str, detail: str, **data: Any) -> Check:
    return Check(name, Status.NA, detail, data=data)


def fail(name: str, detail: str, fix: str, *, blocking: bool, **data: Any) -> Check:
    return Check(name, Status.FAIL, detail, fix, blocking, data=data)


def blockers(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.blocking]
