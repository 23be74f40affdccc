"""The preflight: reprotect and failover run the doctor on their items before their first change, and refuse to
start on a failure unless the operator overrides that check.

The job's parameters carry the overrides (``skip_doctor``: check ids, from ``failbackctl reprotect|failover
--skip-doctor CHECK_ID``), so they are recorded with the job; the step's output records every finding, and which
failures were overridden. :func:`with_preflight` puts the step first in those job types, before ``claim``: a
refused job has held nothing and changed nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from controller.doctor._checks import CHECK_IDS
from controller.doctor._doctor import Doctor
from controller.doctor._result import Status
from controller.jobs import InvalidParameters, JobType, Step, StepContext
from controller.workflows import FAILOVER, REPROTECT, Deps

__all__ = ["PREFLIGHT_STEP", "PREFLIGHT_WORKFLOWS", "SKIP_PARAM", "preflight_step", "with_preflight"]

PREFLIGHT_WORKFLOWS = frozenset({REPROTECT, FAILOVER})
PREFLIGHT_STEP = "preflight"
SKIP_PARAM = "skip_doctor"


def _skipped(params: Mapping[str, Any]) -> list[str]:
    value = params.get(SKIP_PARAM) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameters(f"'{SKIP_PARAM}' is a list of doctor check ids")
    unknown = sorted(set(value) - CHECK_IDS)
    if unknown:
        raise InvalidParameters(
            f"'{SKIP_PARAM}' names unknown doctor checks {unknown}; the checks are {', '.join(sorted(CHECK_IDS))}"
        )
    return value


def preflight_step(doctor: Doctor, deps: Deps) -> Step:
    def run(ctx: StepContext) -> dict[str, Any]:
        skip = _skipped(ctx.params)
        ctx.report(0.0, message="the doctor checks the items")
        results = doctor.preflight(deps.scope(ctx.params), skip=skip)
        ctx.report(1.0)
        counts = {s.value: sum(1 for r in results if r.status is s) for s in Status}

        def entries(status: Status, *, overridden: bool) -> list[dict[str, str | None]]:
            return [
                {"check": r.check, "subject": r.subject, "evidence": r.evidence, "remedy": r.remedy}
                for r in results
                if r.status is status and (r.check in skip) == overridden
            ]

        return {
            "counts": counts,
            "overridden": entries(Status.FAIL, overridden=True),
            "warnings": [*entries(Status.WARN, overridden=False), *entries(Status.WARN, overridden=True)],
        }

    return Step(PREFLIGHT_STEP, run, title="Run the doctor's checks on the items")


def with_preflight(job_types: Iterable[JobType], doctor: Doctor, deps: Deps) -> list[JobType]:
    """The job types, with reprotect and failover starting with the preflight step."""
    step = preflight_step(doctor, deps)
    changed = []
    for job_type in job_types:
        if job_type.name in PREFLIGHT_WORKFLOWS:
            validate = job_type.validate

            def both(params: Mapping[str, Any], first: Any = validate) -> None:
                first(params)
                _skipped(params)

            job_type = dataclasses.replace(job_type, steps=(step, *job_type.steps), validate=both)
        changed.append(job_type)
    return changed
