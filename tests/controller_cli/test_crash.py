"""T25 for the job machinery: SIGKILL a real controller at every step boundary of a job; each time it comes back,
the job resumes from its last completed step and no step's effect happens twice.

The job (``test.effects``, three steps) records each start of a step in ``runs`` and each effect in ``effects``;
every step stops at a gate before and after its effect. The test kills the controller while a step waits at each
gate (six kills), opens that gate, and starts the controller again on the same state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.controller_cli._procs import FAST, jobs_of, kill, restart, wait_finished, wait_for_file
from tests.harness import start_controller


@pytest.mark.slow
def test_a_controller_killed_at_every_step_boundary_resumes_without_repeating_an_effect(tmp_path: Path):
    controller = start_controller(tmp_path / "controller", extra=FAST)
    work = tmp_path / "effects"
    work.mkdir()
    try:
        with jobs_of(controller) as jobs:
            job_id = jobs.submit("test.effects", {"dir": str(work), "gates": True}, created_by="operator/test").id
            restarts = 0
            for position in range(3):
                for side in ("before", "after"):
                    gate = f"{side}-s{position}"
                    wait_for_file(work / f"at-{gate}")
                    kill(controller)
                    job = jobs.get(job_id)
                    # Killed mid-step: the step is recorded as started and not finished, earlier ones as done.
                    assert [step.state for step in job.steps[: position + 1]] == ["succeeded"] * position + ["running"]
                    effects = (work / "effects").read_text().splitlines() if (work / "effects").exists() else []
                    expected = [f"s{n}" for n in range(position)] + ([f"s{position}"] if side == "after" else [])
                    assert effects == expected
                    (work / f"go-{gate}").touch()
                    restarts += 1
                    controller = restart(controller, f"run-{restarts}")
            job = wait_finished(jobs, job_id)
    finally:
        controller.stop()
    assert job.state == "succeeded", job.error
    assert (work / "effects").read_text().splitlines() == ["s0", "s1", "s2"]
    # Each step started three times (first run, after the kill before its effect, after the kill after it)...
    assert (work / "runs").read_text().splitlines() == ["s0"] * 3 + ["s1"] * 3 + ["s2"] * 3
    assert [step.attempts for step in job.steps] == [3, 3, 3]
    # ...and the resumed step's output is the one of its last, completing run.
    assert [step.output for step in job.steps] == [{"effect": f"s{n}", "attempt": 3} for n in range(3)]
