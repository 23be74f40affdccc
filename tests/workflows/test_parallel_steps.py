"""A step's per-item work side by side (``each``): every item is tried, results keep the items' order, and the first
failure in that order is what the step raises; powering the Azure VMs off side by side keeps what planned and
unplanned failovers promise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from controller.azure.errors import AzureUnavailable
from controller.workflows._common import each
from controller.workflows._failover import _power_off_azure
from controller.workflows.errors import NotEligible


def test_results_keep_the_order_of_the_items_whatever_order_they_finish_in() -> None:
    release = threading.Event()

    def act(item: int) -> int:
        if item == 0:
            release.wait(5)  # the first item finishes last
        elif item == 5:
            release.set()
        return item * 10

    assert each(list(range(6)), act, workers=6) == [0, 10, 20, 30, 40, 50]


def test_items_run_at_once_up_to_the_worker_count() -> None:
    barrier = threading.Barrier(3, timeout=5)

    def act(item: int) -> int:
        barrier.wait()  # breaks (and raises) unless three items run at the same time
        return item

    assert each([1, 2, 3], act, workers=3) == [1, 2, 3]


def test_every_item_is_tried_and_the_first_failure_in_item_order_is_raised() -> None:
    tried: list[str] = []
    guard = threading.Lock()

    def act(item: str) -> str:
        with guard:
            tried.append(item)
        if item in ("b", "d"):
            raise NotEligible(f"{item} is not ready")
        return item

    with pytest.raises(NotEligible, match="b is not ready"):
        each(["a", "b", "c", "d", "e"], act, workers=2)
    assert sorted(tried) == ["a", "b", "c", "d", "e"]


class _Row:
    def __init__(self, name: str, vm_id: str | None) -> None:
        self.name = name
        self.key = name
        self.asr = {"azure_vm_id": vm_id}


class _Vms:
    """Azure VMs as the step sees them (our AzureVms seam): vm-b cannot be reached."""

    def __init__(self) -> None:
        self.powered_off: list[str] = []
        self._guard = threading.Lock()

    def power_state(self, vm_id: str) -> SimpleNamespace:
        if vm_id == "vm-b":
            raise AzureUnavailable("the compute endpoint does not answer")
        return SimpleNamespace(power_state="stopped" if vm_id == "vm-c" else "running")

    def power_off(self, vm_id: str) -> None:
        with self._guard:
            self.powered_off.append(vm_id)


class _Deps:
    def __init__(self) -> None:
        self.vms = _Vms()
        rows = [_Row("a", "vm-a"), _Row("b", "vm-b"), _Row("c", "vm-c"), _Row("d", "vm-d"), _Row("e", None)]
        self._scope = SimpleNamespace(plan=SimpleNamespace(vault="dr"), items=[(row, None) for row in rows])

    def scope(self, params: object) -> SimpleNamespace:
        return self._scope

    @contextmanager
    def azure_vms(self, vault: str) -> Iterator[_Vms]:
        yield self.vms


def _ctx(kind: str) -> SimpleNamespace:
    return SimpleNamespace(params={"plan": "p", "kind": kind})


def test_an_unplanned_failover_stops_every_azure_vm_it_can_and_says_which_it_could_not() -> None:
    deps = _Deps()
    output = _power_off_azure(deps, _ctx("unplanned"))  # type: ignore[arg-type]
    assert sorted(deps.vms.powered_off) == ["vm-a", "vm-d"]  # vm-c was already stopped; e has no Azure VM
    assert output == {"stopped": ["a", "d"], "not_stopped": "the compute endpoint does not answer"}


def test_a_planned_failover_fails_when_an_azure_vm_cannot_be_stopped() -> None:
    deps = _Deps()
    with pytest.raises(AzureUnavailable):
        _power_off_azure(deps, _ctx("planned"))  # type: ignore[arg-type]
