"""A doctor report: every finding, the worst status, and the JSON ``failbackctl doctor --output json`` prints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controller.doctor._checks import CheckResult, Status

__all__ = ["Report", "summary"]

_ORDER = {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class Report:
    scope: str
    taken_at: dt.datetime
    results: tuple[CheckResult, ...]
    problems: tuple[str, ...] = ()

    @property
    def status(self) -> Status:
        worst = max((_ORDER[r.status] for r in self.results), default=0)
        status = next(s for s, rank in _ORDER.items() if rank == worst)
        return Status.WARN if status is Status.OK and self.problems else status

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAIL]

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for r in self.results if r.status is s) for s in Status}

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "taken_at": self.taken_at.isoformat(),
            "status": self.status.value,
            "counts": self.counts(),
            "problems": list(self.problems),
            "checks": [r.to_json() for r in self.results],
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Report:
        return cls(
            scope=document["scope"],
            taken_at=dt.datetime.fromisoformat(document["taken_at"]),
            results=tuple(
                CheckResult(c["check"], c["subject"], Status(c["status"]), c["evidence"], c.get("remedy"))
                for c in document["checks"]
            ),
            problems=tuple(document.get("problems", ())),
        )


def summary(results: Sequence[CheckResult]) -> str:
    failed = [r for r in results if r.status is Status.FAIL]
    return "; ".join(f"{r.check} ({r.subject}): {r.evidence}" for r in failed)
