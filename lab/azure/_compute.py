"""The Compute half of the local endpoint: get, instance view, power off, start and deallocate of the estate's VMs.

Power operations are long-running as in Azure: the VM shows the transitional power state (``stopping``,
``starting``, ``deallocating``) until the status URL reports the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.azure._bodies import Bodies
from lab.azure._estate import AzureVm, Estate, PowerState
from lab.azure._http import ArmError, Request, Response, Router
from lab.azure._lro import Operations

__all__ = ["COMPUTE_API_VERSION", "ComputeService"]

COMPUTE_API_VERSION = "2026-04-01"

_VM = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.Compute/virtualMachines/(?P<vm>[^/]+)"
)
_OPERATION = (
    r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Compute"
    r"/locations/(?P<location>[^/]+)/operations/(?P<op>[^/]+)"
)

_TRANSITIONS: dict[str, tuple[PowerState, PowerState]] = {
    "powerOff": ("stopping", "stopped"),
    "start": ("starting", "running"),
    "deallocate": ("deallocating", "deallocated"),
}


class ComputeService:
    """``storage_profile(vm name)`` gives the VM's ``storageProfile`` (its managed disks), when it has one."""

    def __init__(
        self,
        estate: Estate,
        ops: Operations,
        storage_profile: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> None:
        self.estate = estate
        self.bodies = Bodies(estate)
        self.ops = ops
        self.storage_profile = storage_profile

    def register(self, router: Router) -> None:
        router.add("GET", _VM, self._get)
        router.add("GET", _VM + r"/instanceView", self._instance_view)
        router.add("POST", _VM + r"/(?P<action>powerOff|start|deallocate)", self._power)
        router.add("GET", _OPERATION, self._operation)

    def _vm(self, request: Request, sub: str, rg: str, vm: str) -> AzureVm:
        if request.param("api-version") != COMPUTE_API_VERSION:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{request.param('api-version')}' is invalid for Microsoft.Compute in this endpoint; "
                f"it serves '{COMPUTE_API_VERSION}'.",
            )
        if sub.lower() == self.estate.subscription_id.lower():
            for candidate in self.estate.vms:
                if candidate.name.lower() == vm.lower() and candidate.resource_group.lower() == rg.lower():
                    return candidate
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Compute/virtualMachines/{vm}' under resource group '{rg}' was not found.",
        )

    def _get(self, request: Request, **path: str) -> Response:
        vm = self._vm(request, **path)
        body = self.bodies.vm(vm)
        profile = self.storage_profile(vm.name) if self.storage_profile is not None else None
        if profile is not None:
            body["properties"]["storageProfile"] = profile
        return Response(200, body)

    def _instance_view(self, request: Request, **path: str) -> Response:
        return Response(200, self.bodies.instance_view(self._vm(request, **path)))

    def _power(self, request: Request, action: str, **path: str) -> Response:
        vm = self._vm(request, **path)
        key = next(k for k in _TRANSITIONS if k.lower() == action.lower())
        during, after = _TRANSITIONS[key]
        if key == "start" and vm.power_state == "running":
            return Response(200)
        before = vm.power_state
        vm.power_state = during
        op_id = self.ops.new_id()
        base = f"{request.base_url}/subscriptions/{self.estate.subscription_id}/providers/Microsoft.Compute/locations"
        status = f"{base}/{vm.location}/operations/{op_id}?api-version={COMPUTE_API_VERSION}"

        def succeeded() -> None:
            vm.power_state = after

        def failed(code: str, message: str) -> None:
            del code, message  # the VM stays where it was; the error is reported by the operation status
            vm.power_state = before

        return self.ops.start(
            op_id,
            status_url=status,
            location_url=status.replace("?", "?monitor=true&"),
            on_success=succeeded,
            on_failure=failed,
            result=lambda: None,
        )

    def _operation(self, request: Request, sub: str, location: str, op: str) -> Response:
        del sub, location
        if request.param("monitor") == "true":
            return self.ops.outcome(op)
        return self.ops.poll(op)
