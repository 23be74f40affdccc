"""Job types for tests, loaded into real controllers by ``[jobs] plugins = ["tests.controller_cli.jobtypes"]``.

``test.effects`` records its effects in files so a test can see what happened across controller crashes:

* ``runs``: one line per start of a step (repeats are expected after a crash);
* ``effects``: one line per effect; a step checks the file before acting, as every real step checks the world, so a
  re-run after a crash must not add a second line;
* gates (``gates: true``): a step stops before and after its effect until the test creates ``go-<gate>``; it
  writes ``at-<gate>`` when it gets there, so the test knows where to kill the controller.

``test.flaky`` fails temporarily ``failures`` times, then succeeds. ``test.broken`` fails permanently with a remedy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.jobs import InvalidParameters, JobType, Step, StepContext
from failback.errors import PermanentError, TemporaryError
from failback.retry import Policy

STEPS = 3
# How long a gate waits for the test; polls are short so the test does not wait on the step.
_GATE = Policy(deadline=120.0, initial=0.05, maximum=0.2, jitter=0.02)


def _append(path: Path, line: str) -> None:
    with path.open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _gate(ctx: StepContext, directory: Path, name: str) -> None:
    if not ctx.params.get("gates"):
        return
    (directory / f"at-{name}").write_text(str(os.getpid()))

    def released() -> bool | None:
        ctx.checkpoint()
        return True if (directory / f"go-{name}").exists() else None

    _GATE.wait_for(released, what=f"the test to open gate {name}")


def _effect_step(position: int) -> Step:
    name = f"s{position}"

    def run(ctx: StepContext) -> dict[str, Any]:
        directory = Path(ctx.params["dir"])
        _append(directory / "runs", name)
        _gate(ctx, directory, f"before-{name}")
        if name not in _lines(directory / "effects"):
            _append(directory / "effects", name)
        ctx.report(0.5, bytes_done=512 * (position + 1), bytes_total=512 * STEPS, message=f"{name} applied")
        _gate(ctx, directory, f"after-{name}")
        return {"effect": name, "attempt": ctx.attempt}

    return Step(name, run, title=f"Apply effect {position}")


def _needs_dir(params: Mapping[str, Any]) -> None:
    if not isinstance(params.get("dir"), str):
        raise InvalidParameters("test jobs need 'dir'")


def _flaky(ctx: StepContext) -> dict[str, Any]:
    counter = Path(ctx.params["dir"]) / "flaky"
    seen = len(_lines(counter))
    if seen < int(ctx.params.get("failures", 2)):
        _append(counter, "failed")
        raise TemporaryError(f"simulated outage {seen + 1}", remedy="wait for the outage to end")
    return {"attempt": ctx.attempt}


def _broken(ctx: StepContext) -> None:
    raise PermanentError("the simulated datastore is full", remedy="free 40 GiB on datastore1, then run it again")


def job_types() -> list[JobType]:
    return [
        JobType(
            "test.effects",
            "Apply test effects",
            tuple(_effect_step(n) for n in range(STEPS)),
            subject=lambda params: params.get("subject"),
            validate=_needs_dir,
        ),
        JobType(
            "test.flaky",
            "Survive a flaky dependency",
            (Step("call", _flaky, title="Call a flaky service", retry=Policy(deadline=60, initial=0.2, maximum=0.5)),),
            validate=_needs_dir,
        ),
        JobType("test.broken", "Fail for good", (Step("fill", _broken, title="Fill the datastore"),)),
    ]
