"""The job types this controller can run. Workflows register theirs at start-up; nothing registers at import."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator

from controller.jobs._declare import JobType
from controller.jobs.errors import UnknownJobType
from failback.errors import ConfigError

__all__ = ["JobRegistry"]


class JobRegistry:
    def __init__(self, job_types: Iterable[JobType] = ()) -> None:
        self._types: dict[str, JobType] = {}
        self.register(*job_types)

    def register(self, *job_types: JobType) -> None:
        for job_type in job_types:
            if job_type.name in self._types:
                raise ValueError(f"job type {job_type.name!r} is registered twice")
            self._types[job_type.name] = job_type

    def load_plugin(self, module_name: str) -> None:
        """Import ``module_name`` and register what its ``job_types()`` returns (``[jobs] plugins`` in the config)."""
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"[jobs] plugins: cannot import {module_name!r}: {exc}") from exc
        factory = getattr(module, "job_types", None)
        if not callable(factory):
            raise ConfigError(f"[jobs] plugins: {module_name!r} has no job_types() function")
        self.register(*factory())

    def get(self, name: str) -> JobType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownJobType(
                f"this controller has no job type {name!r}",
                remedy=f"known types: {', '.join(sorted(self._types)) or 'none'}",
            ) from None

    def names(self) -> list[str]:
        return sorted(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[JobType]:
        return iter(self._types.values())
