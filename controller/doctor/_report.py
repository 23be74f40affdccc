"""A doctor report: every finding, where the facts came from, the worst status, and its JSON.

JSON (what ``failbackctl doctor --output json`` prints, and :meth:`Report.from_json` reads)::

    {
      "scope": "plan lab",                 # or "vms web01, app01", or "all"
      "live": true,                        # false with --offline: only stored facts were used
      "taken_at": "2026-11-25T12:00:00+00:00",
      "status": "ok" | "warn" | "fail",    # the worst finding (warn when something could not be gathered)
      "counts": {"ok": 17, "warn": 2, "fail": 1},
      "sources": [{"name": "vCenter lab-vcenter", "how": "live" | "stored" | "none",
                   "at": RFC 3339 | null, "note": "7 SOAP round trips"}],
      "problems": ["plan old cannot be checked: ..."],
      "checks": [{"id": "vm-snapshots", "title": "no snapshots on the on-premises VM", "subject": "vm web01",
                  "status": "fail", "evidence": "...", "remedy": "..." | null}]
    }

``checks`` are ordered by subject (vCenter, vaults, controller, hosts, datastores, agents, VMs), then by check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from controller.doctor._checks import CHECKS, title_of
from controller.doctor._result import CheckResult, Status

__all__ = ["Report", "Source", "merge_results", "summary"]

_ORDER = {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}
_CHECK_ORDER = {spec.id: index for index, spec in enumerate(CHECKS)}
_SUBJECT_ORDER = (
    "vCenter",
    "vault",
    "controller",
    "host",
    "datastore",
    "agents",
    "master-target",
    "master target",
    "process-server",
    "process server",
    "vm",
)


@dataclass(frozen=True)
class Source:
    """Where facts came from: ``how`` is "live" (asked now), "stored" (the controller's records) or "none"."""

    name: str
    how: str
    at: dt.datetime | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "how": self.how, "at": self.at.isoformat() if self.at else None, "note": self.note}


@dataclass(frozen=True)
class Report:
    scope: str
    taken_at: dt.datetime
    results: tuple[CheckResult, ...]
    problems: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    live: bool = True

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
            "live": self.live,
            "taken_at": self.taken_at.isoformat(),
            "status": self.status.value,
            "counts": self.counts(),
            "sources": [source.to_json() for source in self.sources],
            "problems": list(self.problems),
            "checks": [
                {
                    "id": r.check,
                    "title": title_of(r.check),
                    "subject": r.subject,
                    "status": r.status.value,
                    "evidence": r.evidence,
                    "remedy": r.remedy,
                }
                for r in self.results
            ],
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Report:
        return cls(
            scope=document["scope"],
            taken_at=dt.datetime.fromisoformat(document["taken_at"]),
            results=tuple(
                CheckResult(c["id"], c["subject"], Status(c["status"]), c["evidence"], c.get("remedy"))
                for c in document["checks"]
            ),
            problems=tuple(document.get("problems", ())),
            sources=tuple(
                Source(s["name"], s["how"], dt.datetime.fromisoformat(s["at"]) if s["at"] else None, s["note"])
                for s in document.get("sources", ())
            ),
            live=bool(document.get("live", True)),
        )


def _subject_rank(subject: str) -> int:
    return next((i for i, kind in enumerate(_SUBJECT_ORDER) if subject.startswith(kind)), len(_SUBJECT_ORDER))


def merge_results(groups: Iterable[Sequence[CheckResult]]) -> tuple[CheckResult, ...]:
    """One list from the findings of several sets of facts: identical findings once, ordered by subject kind,
    subject (in order of appearance) and check."""
    seen: set[CheckResult] = set()
    first: dict[str, int] = {}
    merged: list[CheckResult] = []
    for results in groups:
        for result in results:
            if result in seen:
                continue
            seen.add(result)
            first.setdefault(result.subject, len(first))
            merged.append(result)
    merged.sort(key=lambda r: (_subject_rank(r.subject), first[r.subject], _CHECK_ORDER.get(r.check, 99)))
    return tuple(merged)


def summary(results: Sequence[CheckResult]) -> str:
    failed = [r for r in results if r.status is Status.FAIL]
    return "; ".join(f"{r.check} ({r.subject}): {r.evidence}" for r in failed)
