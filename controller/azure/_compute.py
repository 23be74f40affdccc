"""Power control of the failed-over Azure VMs through azure-mgmt-compute: power off, deallocate, start, state.

One ``ComputeManagementClient`` per subscription, made on first use (a vault's failed-over VMs may live in other
subscriptions than the vault). Every power change is a long-running operation under our deadline; the returned
state is read back from the instance view, never assumed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.core.polling import LROPoller
from azure.mgmt.compute import ComputeManagementClient

from controller.azure import _convert
from controller.azure._config import AzureClientConfig
from controller.azure._lro import run_operation
from controller.azure._models import VmPowerState, VmRef
from controller.azure._translate import translate
from failback.retry import Policy

__all__ = ["AzureVms"]

_log = logging.getLogger(__name__)


def _ref(vm: VmRef | str) -> VmRef:
    return vm if isinstance(vm, VmRef) else VmRef.from_id(vm)


class AzureVms:
    """Azure VMs by :class:`VmRef` (or ARM id)."""

    def __init__(self, credential: TokenCredential, *, config: AzureClientConfig | None = None) -> None:
        self._credential = credential
        self.config = config or AzureClientConfig()
        self._clients: dict[str, ComputeManagementClient] = {}
        # Workflow steps call one AzureVms from several threads: a client per subscription, made once.
        self._lock = threading.Lock()

    def _client(self, subscription_id: str) -> ComputeManagementClient:
        key = subscription_id.lower()
        with self._lock:
            if key not in self._clients:
                self._clients[key] = ComputeManagementClient(
                    self._credential, subscription_id, **self.config.client_kwargs()
                )
            return self._clients[key]

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> AzureVms:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def power_state(self, vm: VmRef | str) -> VmPowerState:
        ref = _ref(vm)
        ops = self._client(ref.subscription_id).virtual_machines
        try:
            view = ops.instance_view(ref.resource_group, ref.name)
        except AzureError as exc:
            raise translate(exc, what=f"reading the power state of VM {ref.name}") from exc
        return _convert.power_state(ref, view)

    def power_off(
        self, vm: VmRef | str, *, skip_shutdown: bool = False, deadline: Policy | None = None
    ) -> VmPowerState:
        """Stop the VM (still allocated, still billed). ``skip_shutdown`` cuts power without a guest shutdown."""
        ref = _ref(vm)
        ops = self._client(ref.subscription_id).virtual_machines
        self._run(
            f"power off of VM {ref.name}",
            lambda **kw: ops.begin_power_off(ref.resource_group, ref.name, skip_shutdown=skip_shutdown, **kw),
            deadline,
        )
        return self.power_state(ref)

    def deallocate(self, vm: VmRef | str, *, deadline: Policy | None = None) -> VmPowerState:
        """Stop the VM and release its compute (no compute charges; the next start may land on another host)."""
        ref = _ref(vm)
        ops = self._client(ref.subscription_id).virtual_machines
        self._run(
            f"deallocation of VM {ref.name}",
            lambda **kw: ops.begin_deallocate(ref.resource_group, ref.name, **kw),
            deadline,
        )
        return self.power_state(ref)

    def start(self, vm: VmRef | str, *, deadline: Policy | None = None) -> VmPowerState:
        ref = _ref(vm)
        ops = self._client(ref.subscription_id).virtual_machines
        self._run(f"start of VM {ref.name}", lambda **kw: ops.begin_start(ref.resource_group, ref.name, **kw), deadline)
        return self.power_state(ref)

    def _run(self, what: str, start: Callable[..., LROPoller[None]], deadline: Policy | None) -> None:
        _log.info("starting %s", what)
        run_operation(
            start,
            what=what,
            policy=deadline or self.config.operation_policy,
            interval=self.config.polling_interval,
            endpoint=self.config.base_url,
        )
