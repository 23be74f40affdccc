"""Submitting and cancelling jobs: the one entry point the API and the workflows use."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from controller.jobs._registry import JobRegistry
from controller.jobs.errors import InvalidParameters
from controller.store import JobRecord, JobStore, StepSpec

__all__ = ["Jobs"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Jobs:
    def __init__(
        self,
        store: JobStore,
        registry: JobRegistry,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
        on_submit: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.registry = registry
        self._clock = clock
        self._on_submit = on_submit

    def submit(self, job_type: str, params: Mapping[str, Any], *, created_by: str) -> JobRecord:
        """Check ``params`` with the job type and record the job; refused (nothing recorded) on bad parameters or
        when another unfinished job holds the same subject."""
        declared = self.registry.get(job_type)
        document = dict(params)
        try:
            json.dumps(document)
        except TypeError as exc:
            raise InvalidParameters(f"the parameters of a {job_type} job must be JSON: {exc}") from exc
        declared.validate(document)
        record = self.store.submit(
            type=declared.name,
            subject=declared.subject(document),
            params=document,
            steps=[StepSpec(step.name, step.title, step.weight) for step in declared.steps],
            created_by=created_by,
            now=self._clock(),
        )
        self._on_submit()
        return record

    def get(self, job_id: int) -> JobRecord:
        return self.store.get(job_id)

    def list_jobs(self, *, limit: int = 100, unfinished_only: bool = False) -> list[JobRecord]:
        return self.store.list_jobs(limit=limit, unfinished_only=unfinished_only)

    def cancel(self, job_id: int, *, by: str) -> JobRecord:
        return self.store.request_cancel(job_id, by=by, now=self._clock())
