"""A failback site for the doctor: a fresh vSphere simulator, the local Azure endpoint whose Linux item ``app01``
was failed over from the simulator's VM ``DC0_H0_VM0`` (its ASR disks are that VM's VMDK UUIDs), a controller
database with the vault imported, and a plan ``web`` that fails ``app01`` back through the master target VM
``DC0_H0_VM1``. The doctor is the real one with the real adapters; only the clock and the agents are left out
(no agent is registered, so none is dialled).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.agents import GrpcAgents
from controller.azure import AzureClientConfig, SiteRecovery, VaultRef
from controller.doctor import (
    CheckResult,
    ControllerFacts,
    Doctor,
    DoctorDeps,
    PrivilegeProbe,
    Report,
    Selection,
    session_privileges,
    vault_opener,
    vcenter_opener,
)
from controller.inventory import Readers, SourceCatalog, azure_items
from controller.secrets import Secret, SecretBox
from controller.store import AgentStatusStore, Database, Enrollment, InventoryStore, ProtectionStore, Sources
from controller.vsphere import VirtualMachine, VSphere, connect
from controller.workflows import Deps, import_vault, parse_plan
from lab.azure import Disk, LocalAzure
from lab.vcsim import Model, Simulator
from tests.azure.conftest import StaticToken
from tests.controller.conftest import AZURE_CLIENT, AZURE_SECRET, AZURE_TENANT, vcsim_binary
from tests.vsphere.conftest import credentials_for, start_simulator

__all__ = ["Site", "make_site", "start_simulator", "vcsim_binary"]

APP01 = "a1f0e7c4-0002-4a6b-9c1d-100000000002"
ONPREM_VM = "DC0_H0_VM0"
MT_VM = "DC0_H0_VM1"


@dataclass
class Site:
    sim: Simulator
    azure: LocalAzure
    vc: VSphere
    protection: ProtectionStore
    doctor: Doctor
    deps: Deps
    onprem: VirtualMachine
    mt: VirtualMachine
    use_plan: Callable[..., None]

    def run(self, selection: Selection | None = None, *, live: bool = True) -> Report:
        return self.doctor.run(selection or Selection(plan="web"), live=live)


def plan_text(mt_vm: str, *, datastore: str = "LocalDS_0", mt_asr_id: str = "", extra: str = "") -> str:
    asr_id = f'asr_id = "{mt_asr_id}"' if mt_asr_id else ""
    return textwrap.dedent(
        f"""
        name = "web"
        vault = "dr"
        vcenter = "vc1"
        recovery_plan = "rp-3tier"
        datastore = "{datastore}"
        retention_volume = "/mnt/retention"
        master_targets = ["mt-linux-01"]
        process_server = "ps-azure-01"
        policy = "failback-24h"

        [[agents]]
        name = "mt-linux-01"
        role = "master-target"
        address = "127.0.0.1:9"
        vm = "{mt_vm}"
        {asr_id}

        [[agents]]
        name = "ps-azure-01"
        role = "process-server"
        address = "127.0.0.1:9"
        """
    ) + textwrap.dedent(extra)


def findings(report: Report, check: str) -> list[CheckResult]:
    found = [r for r in report.results if r.check == check]
    assert found, f"the doctor reported nothing for {check}: {report.to_json()}"
    return found


@pytest.fixture
def make_site(tmp_path: Path, start_simulator: Callable[[Model], Simulator]) -> Iterator[Callable[..., Site]]:
    """``make_site(model=..., vcenter_password=..., vault_secret=..., privileges=..., before_failover=...)``: a site
    per call. ``before_failover(sim, vm)`` changes the on-premises VM before the vault records its disks."""
    with contextlib.ExitStack() as stack:

        def make(
            *,
            model: Model | None = None,
            vcenter_password: str | None = None,
            vault_secret: str = AZURE_SECRET,
            privileges: PrivilegeProbe = session_privileges,
            before_failover: Callable[[Simulator, VirtualMachine], None] | None = None,
        ) -> Site:
            sim = start_simulator(model or Model(vms=2))
            vc = stack.enter_context(connect(credentials_for(sim)))
            vms = {vm.name: vm for vm in vc.inventory().vms}
            onprem, mt = vms[ONPREM_VM], vms[MT_VM]
            if before_failover is not None:  # how the VM was when ASR protected it (its disks are then in the vault)
                before_failover(sim, onprem)
                onprem = vc.vm(onprem.instance_uuid)
            azure = stack.enter_context(
                LocalAzure(
                    tls_dir=tmp_path / "azure", token="t", principals={(AZURE_TENANT, AZURE_CLIENT): AZURE_SECRET}
                )
            )
            item = next(i for i in azure.estate.items if i.name == APP01)
            item.disks = [Disk(d.uuid or "", d.file_name, d.capacity_bytes) for d in onprem.disks]
            database = Database.open(Database.sqlite_in(tmp_path))
            stack.callback(database.close)
            catalog = SourceCatalog(Sources(database), SecretBox.generate())
            catalog.add_vault(
                name="dr",
                subscription_id=azure.estate.subscription_id,
                resource_group=azure.estate.resource_group,
                vault=azure.estate.vault,
                tenant_id=AZURE_TENANT,
                client_id=AZURE_CLIENT,
                client_secret=Secret(vault_secret),
                base_url=azure.base_url,
                authority=azure.base_url,
                ca_pem=Path(azure.ca_file).read_text(),
            )
            catalog.add_vcenter(
                name="vc1",
                address=f"{sim.host}:{sim.port}",
                username=sim.username,
                password=Secret(vcenter_password or sim.password),
                ca_pem=Path(sim.ca_file).read_text(),
            )
            inventory, protection = InventoryStore(database), ProtectionStore(database)
            now = dt.datetime.now(dt.UTC)
            config = AzureClientConfig(
                base_url=azure.base_url, connection_verify=str(azure.ca_file), polling_interval=0, retry_total=0
            )
            estate = azure.estate
            reference = VaultRef(estate.subscription_id, estate.resource_group, estate.vault)
            with SiteRecovery(reference, StaticToken("t"), config=config) as asr:
                inventory.save(
                    source_kind="azure",
                    source_name="dr",
                    items=azure_items(asr.import_vault()),
                    job_id=None,
                    taken_at=now,
                )
            import_vault("dr", inventory, protection, now=now)
            trust = tmp_path / "trust"
            trust.mkdir(exist_ok=True)
            deps = Deps(
                protection=protection,
                catalog=catalog,
                readers=Readers(trust),
                agents=GrpcAgents(lambda: pytest.fail("no agent is registered, so none is dialled")),
                trust_dir=trust,
                controller_version="1.0.0",
            )
            doctor = Doctor(
                DoctorDeps(
                    workflows=deps,
                    inventory=inventory,
                    enrollment=Enrollment(database),
                    heartbeats=AgentStatusStore(database),
                    controller=lambda: ControllerFacts("1.0.0"),
                    agents=deps.agents,
                    open_vcenter=vcenter_opener(catalog, trust, timeout=10),
                    open_vault=vault_opener(catalog, trust, timeout=10),
                    deadline=20,
                    privileges=privileges,
                )
            )

            def use_plan(**options: str) -> None:
                extra = options.pop("extra", '\n[[vms]]\nitem = "app01"\n')
                plan = parse_plan(plan_text(mt.instance_uuid, extra=extra, **options))
                protection.save_plan("web", source="file", vault="dr", document=plan.to_json(), now=now)

            use_plan()
            return Site(sim, azure, vc, protection, doctor, deps, onprem, mt, use_plan)

        yield make
