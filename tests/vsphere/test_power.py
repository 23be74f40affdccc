"""Guest shutdown with fallback to power-off, against a fake guest (the simulator's guests always obey at once)."""

from __future__ import annotations

from controller.vsphere import PowerState, ShutdownOutcome, shutdown_with_fallback
from controller.vsphere.errors import WrongState


class FakeVm:
    """A VM whose guest stops ``stops_after`` polls after being asked, never (None), or cannot be asked (no tools)."""

    def __init__(self, state: PowerState, *, stops_after: int | None = 0, tools: bool = True) -> None:
        self.state = state
        self.stops_after = stops_after
        self.tools = tools
        self.asked = False
        self.polls_since_asked = 0
        self.forced = False

    def power_state(self) -> PowerState:
        if self.asked and self.state is PowerState.ON:
            self.polls_since_asked += 1
            if self.stops_after is not None and self.polls_since_asked > self.stops_after:
                self.state = PowerState.OFF
        return self.state

    def request_guest_shutdown(self) -> None:
        if not self.tools:
            raise WrongState("VMware Tools are not running", fault="vim.fault.ToolsUnavailable")
        self.asked = True

    def power_off(self) -> None:
        self.forced = True
        self.state = PowerState.OFF


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _shutdown(vm: FakeVm, clock: Clock, deadline: float = 120.0) -> ShutdownOutcome:
    return shutdown_with_fallback(vm, deadline=deadline, sleep=clock.sleep, clock=clock)


def test_a_cooperative_guest_shuts_down_without_being_forced() -> None:
    vm = FakeVm(PowerState.ON, stops_after=3)
    assert _shutdown(vm, Clock()) is ShutdownOutcome.GUEST
    assert not vm.forced


def test_a_guest_that_ignores_the_request_is_powered_off_after_the_deadline() -> None:
    vm, clock = FakeVm(PowerState.ON, stops_after=None), Clock()
    assert _shutdown(vm, clock, deadline=120.0) is ShutdownOutcome.FORCED
    assert vm.forced
    assert clock.now >= 120.0


def test_a_guest_without_tools_is_powered_off_at_once() -> None:
    vm, clock = FakeVm(PowerState.ON, tools=False), Clock()
    assert _shutdown(vm, clock) is ShutdownOutcome.FORCED
    assert vm.forced
    assert clock.now == 0.0


def test_a_vm_already_off_is_left_alone() -> None:
    vm = FakeVm(PowerState.OFF)
    assert _shutdown(vm, Clock()) is ShutdownOutcome.ALREADY_OFF
    assert not vm.asked
    assert not vm.forced
