"""What workflow steps work with: the stores, the adapters (opened per step from registered sources), the agents,
a clock. Also the scope of a job: the plan it runs and the items it covers."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller import azure, vsphere
from controller.agents import Agents, MasterTarget, ProcessServer
from controller.inventory import Readers, SourceCatalog
from controller.store import ItemRow, ProtectionStore
from controller.workflows._spec import PlanSpec, VmSpec, plan_from_json
from controller.workflows.errors import NotEligible, PlanInvalid
from failback.pki import write_public

__all__ = ["Deps", "Scope", "item_key", "pair_id"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def item_key(vault: str, arm_id: str) -> str:
    return f"{vault}:{arm_id.strip().rstrip('/').lower()}"


def pair_id(key: str, index: int) -> str:
    """A stable pair id per (item, disk): the agents' id syntax, and the same after every reprotect."""
    return f"fb-{hashlib.sha256(key.encode()).hexdigest()[:16]}-{index}"


@dataclass(frozen=True)
class Scope:
    """A job's plan and the items it covers, each with its VM settings, in boot order."""

    plan: PlanSpec
    items: tuple[tuple[ItemRow, VmSpec], ...]

    @property
    def keys(self) -> list[str]:
        return [row.key for row, _ in self.items]

    def vm(self, key: str) -> VmSpec:
        return next(vm for row, vm in self.items if row.key == key)


@dataclass
class Deps:
    protection: ProtectionStore
    catalog: SourceCatalog
    readers: Readers
    agents: Agents
    trust_dir: Path
    controller_version: str
    clock: Callable[[], dt.datetime] = _utcnow
    # Seconds to wait for VMware Tools after power-on, per boot group.
    tools_deadline: float = 600.0

    # -- adapters -----------------------------------------------------------------------------------------------

    @contextmanager
    def vcenter(self, name: str) -> Iterator[vsphere.VSphere]:
        with self.readers.vcenter(self.catalog.vcenter(name), self.catalog.vcenter_password(name)) as client:
            yield client

    @contextmanager
    def vault(self, name: str) -> Iterator[azure.SiteRecovery]:
        with self.readers.vault(self.catalog.vault(name), self.catalog.vault_secret(name)) as client:
            yield client

    @contextmanager
    def azure_vms(self, name: str) -> Iterator[azure.AzureVms]:
        row = self.catalog.vault(name)
        verify: str | bool = True
        if row.ca_pem:
            path = self.trust_dir / f"azure-{row.name}.pem"
            write_public(path, row.ca_pem.encode())
            verify = str(path)
        principal = azure.ServicePrincipal(
            row.tenant_id,
            row.client_id,
            azure.Secret(self.catalog.vault_secret(name).reveal()),
            authority=row.authority,
        )
        config = azure.AzureClientConfig(
            base_url=row.base_url or azure.AzureClientConfig.base_url, connection_verify=verify
        )
        with azure.AzureVms(azure.make_credential(principal, connection_verify=verify), config=config) as client:
            yield client

    def master_target(self, plan: PlanSpec, name: str) -> MasterTarget:
        return self.agents.master_target(name, plan.agent(name).address)

    def process_server(self, plan: PlanSpec, name: str) -> ProcessServer:
        return self.agents.process_server(name, plan.agent(name).address)

    # -- scope --------------------------------------------------------------------------------------------------

    def scope(self, params: Mapping[str, Any]) -> Scope:
        """The plan named in ``params["plan"]``, and its items (only ``params["items"]`` when given)."""
        row = self.protection.plan(params["plan"])
        if row.source != "file":
            raise PlanInvalid(
                f"plan {row.name} was imported from the vault and has no failback settings",
                remedy="write a plan file naming it as recovery_plan (master targets, datastore...) and apply it",
            )
        plan = plan_from_json(row.document, source=f"plan {row.name}")
        vms = list(plan.vms)
        if plan.recovery_plan:
            listed = {vm.item for vm in vms}
            vms += [VmSpec(item=i, boot_group=g) for i, g in self._recovery_plan_items(plan) if i not in listed]
        items = self.protection.items(vault=plan.vault)
        chosen: list[tuple[ItemRow, VmSpec]] = []
        for vm in vms:
            matches = [r for r in items if r.key == item_key(plan.vault, vm.item) or r.name == vm.item]
            if len(matches) != 1:
                raise NotEligible(
                    f"plan {plan.name}: {vm.item!r} matches {len(matches)} items of vault {plan.vault}",
                    remedy="import the vault again, or name the item by its ARM id",
                )
            if any(row.key == matches[0].key for row, _ in chosen):
                continue  # listed in the plan file and in the ASR plan: the file's settings win
            chosen.append(
                (matches[0], vm if vm.boot_group else _with_group(vm, self._asr_boot_group(plan, matches[0])))
            )
        wanted: Sequence[str] | None = params.get("items")
        if wanted:
            picked = [(r, v) for r, v in chosen if r.key in wanted or r.name in wanted]
            if len(picked) != len(wanted):
                raise NotEligible(f"plan {plan.name} does not hold every item of {list(wanted)}")
            chosen = picked
        chosen.sort(key=lambda pair: (pair[1].boot_group or 1, pair[0].name))
        return Scope(plan, tuple(chosen))

    def _recovery_plan_items(self, plan: PlanSpec) -> list[tuple[str, int]]:
        imported = self.protection.plan(f"{plan.vault}.{plan.recovery_plan}")
        return [
            (item_id, position)
            for position, group in enumerate(imported.document["groups"], start=1)
            for item_id in group
        ]

    def _asr_boot_group(self, plan: PlanSpec, row: ItemRow) -> int:
        if not plan.recovery_plan:
            return 1
        for item_id, position in self._recovery_plan_items(plan):
            if item_key(plan.vault, item_id) == row.key:
                return position
        return 1


def _with_group(vm: VmSpec, group: int) -> VmSpec:
    from dataclasses import replace

    return replace(vm, boot_group=group)
