"""Guest shutdown with a deadline, falling back to power-off: the policy, over a small seam.

The simulator shuts a guest down at once and cannot show a guest that ignores the request, so the decision logic
lives here over :class:`PowerControl` and is tested with a fake guest; the adapter implements the seam with vSphere
calls (ShutdownGuest, runtime.powerState, PowerOffVM_Task).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Protocol

from controller.vsphere._records import PowerState
from controller.vsphere.errors import VSphereUnavailable, WrongState
from failback.errors import DeadlineExceeded
from failback.retry import Policy

__all__ = ["PowerControl", "ShutdownOutcome", "shutdown_with_fallback"]


class ShutdownOutcome(enum.StrEnum):
    ALREADY_OFF = "already-off"
    GUEST = "guest"  # the guest OS shut down cleanly
    FORCED = "forced"  # the guest did not stop in time (or could not be asked); the VM was powered off


class PowerControl(Protocol):
    def power_state(self) -> PowerState: ...

    def request_guest_shutdown(self) -> None:
        """Ask the guest OS to shut down; raises WrongState when it cannot be asked (no VMware Tools)."""

    def power_off(self) -> None: ...


def shutdown_with_fallback(
    vm: PowerControl,
    *,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ShutdownOutcome:
    """Shut the guest down; if it is still running after ``deadline`` seconds, or cannot be asked, power off."""
    if vm.power_state() is PowerState.OFF:
        return ShutdownOutcome.ALREADY_OFF
    try:
        vm.request_guest_shutdown()
    except WrongState:
        if vm.power_state() is PowerState.OFF:  # it stopped between our check and the request
            return ShutdownOutcome.GUEST
        vm.power_off()
        return ShutdownOutcome.FORCED
    policy = Policy(
        deadline=deadline, initial=1.0, maximum=10.0, retry_on=(VSphereUnavailable,), sleep=sleep, clock=clock
    )
    try:
        policy.wait_for(lambda: True if vm.power_state() is PowerState.OFF else None, what="the guest to shut down")
    except DeadlineExceeded:
        vm.power_off()
        return ShutdownOutcome.FORCED
    return ShutdownOutcome.GUEST
