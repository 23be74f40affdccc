"""Task waiting, against a small fake task that moves through queued -> running -> success/error (the simulator's
tasks are already finished when the call returns, so it cannot show these paths)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from pyVmomi import vim

from controller.vsphere import wait_for_task
from controller.vsphere.errors import AlreadyExists, TaskTimeout, VSphereBusy


@dataclass
class Info:
    state: str
    result: Any = None
    error: Any = None


class FakeTask:
    """Reports the next state of ``states`` on each read of ``info``; the last one repeats. An exception in the
    list is raised by that read instead (a dropped connection while polling)."""

    def __init__(self, states: Sequence[Info | BaseException]) -> None:
        self._states = list(states)
        self.reads = 0
        self._moId = "task-42"

    @property
    def info(self) -> Info:
        state = self._states[min(self.reads, len(self._states) - 1)]
        self.reads += 1
        if isinstance(state, BaseException):
            raise state
        return state


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _wait(task: FakeTask, clock: FakeClock, deadline: float = 60.0) -> Any:
    return wait_for_task(task, what="creating VM x", deadline=deadline, sleep=clock.sleep, clock=clock)


def test_a_task_that_goes_queued_running_success_returns_its_result() -> None:
    clock = FakeClock()
    task = FakeTask([Info("queued"), Info("running"), Info("running"), Info("success", result="vm-7")])
    assert _wait(task, clock) == "vm-7"
    assert task.reads == 4
    assert len(clock.slept) == 3
    assert all(0 < pause <= 5.05 for pause in clock.slept)  # backed off, never past the 5 s ceiling plus jitter


def test_a_failed_task_raises_its_translated_fault() -> None:
    fault = vim.fault.DuplicateName(name="web01", msg="The name 'web01' already exists.")
    task = FakeTask([Info("running"), Info("error", error=fault)])
    with pytest.raises(AlreadyExists, match="web01") as caught:
        _wait(task, FakeClock())
    assert caught.value.__cause__ is fault


def test_a_temporary_fault_in_a_finished_task_is_raised_at_once_not_polled_again() -> None:
    task = FakeTask([Info("error", error=vim.fault.TaskInProgress(msg="busy"))])
    with pytest.raises(VSphereBusy):
        _wait(task, FakeClock())
    assert task.reads == 1


def test_a_dropped_connection_while_polling_is_retried_until_the_task_finishes() -> None:
    task = FakeTask([Info("running"), ConnectionResetError("reset by peer"), Info("success", result=None)])
    assert _wait(task, FakeClock()) is None
    assert task.reads == 3


def test_a_task_still_running_at_the_deadline_is_a_task_timeout_naming_it() -> None:
    clock = FakeClock()
    task = FakeTask([Info("queued"), Info("running")])
    with pytest.raises(TaskTimeout, match="task-42") as caught:
        _wait(task, clock, deadline=30.0)
    assert 30.0 <= clock.now < 40.0
    assert caught.value.remedy is not None
    assert "check it in vCenter" in caught.value.remedy
