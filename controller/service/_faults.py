"""Fault injection for crash tests, off unless the environment asks for it.

``FAILBACK_CRASH_AT=<job type>:<step>:<ran|recorded>`` makes the controller kill itself (SIGKILL: no cleanup, as a
power cut or the OOM killer would) when a job of that type reaches that point of that step: ``ran`` once the step's
effect is done but before its completion is recorded, ``recorded`` just after. Crash tests (T25) restart the
controller and check that the job resumes without doing any effect twice. Never set it on a production controller:
the log says loudly when it is set.
"""

from __future__ import annotations

import logging
import os
import signal

from controller.jobs import Step, StepHook
from controller.store import JobRecord

__all__ = ["CRASH_AT", "crash_hook"]

CRASH_AT = "FAILBACK_CRASH_AT"
log = logging.getLogger(__name__)


def crash_hook(environ: dict[str, str] | None = None) -> StepHook | None:
    """The hook for ``FAILBACK_CRASH_AT``, or None when it is not set; a malformed value is refused at start."""
    value = (environ if environ is not None else dict(os.environ)).get(CRASH_AT, "")
    if not value:
        return None
    parts = value.rsplit(":", 2)
    if len(parts) != 3 or parts[2] not in ("ran", "recorded") or not all(parts):
        raise ValueError(f"{CRASH_AT}={value!r}: expected <job type>:<step>:<ran|recorded>")
    job_type, step_name, phase = parts
    log.warning("FAULT INJECTION: this controller kills itself at %s step %s (%s)", job_type, step_name, phase)

    def hook(job: JobRecord, step: Step, at: str) -> None:
        if (job.type, step.name, at) == (job_type, step_name, phase):
            log.warning("FAULT INJECTION: killing this controller at job %d step %s (%s)", job.id, step.name, at)
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
