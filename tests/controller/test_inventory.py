"""Refresh and import jobs against the real adapters: a vSphere simulator and a local Azure endpoint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from controller.inventory import AZURE_IMPORT, VCENTER_REFRESH, Readers, SourceCatalog, SourceInvalid, refresh_job_types
from controller.jobs import JobRegistry, JobRunner, Jobs, RunnerSettings
from controller.secrets import Secret, SecretBox
from controller.store import Database, InventoryStore, JobState, Sources
from lab.azure import LocalAzure
from lab.vcsim import Simulator
from tests.controller.conftest import AZURE_CLIENT, AZURE_SECRET, AZURE_TENANT


class Controller:
    """The inventory pieces as the controller assembles them, on a fresh SQLite database."""

    def __init__(self, tmp_path: Path) -> None:
        self.database = Database.open(Database.sqlite_in(tmp_path))
        self.catalog = SourceCatalog(Sources(self.database), SecretBox.load_or_create(tmp_path / "secrets.key"))
        self.inventory = InventoryStore(self.database)
        registry = JobRegistry(refresh_job_types(self.catalog, self.inventory, Readers(tmp_path / "trust")))
        self.jobs = Jobs(self.database_jobs(), registry)
        self.runner = JobRunner(self.jobs.store, registry, RunnerSettings(replica="test"))

    def database_jobs(self):
        from controller.store import JobStore

        return JobStore(self.database)

    def run(self, job_type: str, params: dict) -> object:
        job = self.jobs.submit(job_type, params, created_by="operator/admin")
        assert self.runner.run_claimed(job.id)
        return self.jobs.get(job.id)


@pytest.fixture
def controller(tmp_path: Path):
    built = Controller(tmp_path)
    yield built
    built.database.close()


def add_simulator(controller: Controller, sim: Simulator, name: str = "vc1", password: str | None = None) -> None:
    controller.catalog.add_vcenter(
        name=name,
        address=f"{sim.host}:{sim.port}",
        username=sim.username,
        password=Secret(password or sim.password),
        ca_pem=Path(sim.ca_file).read_text(),
    )


@pytest.mark.vcsim
def test_a_vcenter_refresh_stores_hosts_datastores_and_vms_with_their_disks(controller: Controller, vcsim: Simulator):
    add_simulator(controller, vcsim)
    job = controller.run(VCENTER_REFRESH, {"vcenter": "vc1"})
    assert job.state == JobState.SUCCEEDED, job.error
    counts = job.steps[1].output["counts"]
    assert counts["host"] == 4
    assert counts["vm"] >= 3
    vms = controller.inventory.items(["vm"], source_name="vc1")
    disks = {entry.item.key: entry.item for entry in controller.inventory.items(["disk"], source_name="vc1")}
    vm = vms[0].item
    assert vm.key == vm.key.lower()
    assert len(vm.key) == 36
    own = [disk for disk in disks.values() if disk.parent_key == vm.key]
    assert own, "every simulator VM has a disk"
    assert all(disk.details["capacity_bytes"] > 0 and disk.details["vm"] == vm.key for disk in own)
    datastores = controller.inventory.items(["datastore"], source_name="vc1")
    assert [entry.item.name for entry in datastores] == ["LocalDS_0"]
    assert datastores[0].item.details["capacity_bytes"] > 0


@pytest.mark.vcsim
def test_a_refused_login_fails_the_refresh_with_a_remedy_and_without_the_password(
    controller: Controller, vcsim: Simulator
):
    add_simulator(controller, vcsim, password="not-the-password-42")
    job = controller.run(VCENTER_REFRESH, {"vcenter": "vc1"})
    assert job.state == JobState.FAILED
    assert job.error.startswith("Log in to vCenter:")
    assert job.remedy
    assert "not-the-password-42" not in f"{job.error} {job.remedy}"
    assert controller.inventory.latest("vcenter", "vc1") is None


def test_a_vcenter_needs_exactly_one_way_to_verify_its_certificate(controller: Controller):
    with pytest.raises(SourceInvalid, match="exactly one of --ca-file and --thumbprint"):
        controller.catalog.add_vcenter(name="vc1", address="vc1.example", username="u", password=Secret("p"))
    assert controller.catalog.vcenters() == []


def add_local_vault(controller: Controller, endpoint: LocalAzure, secret: str = AZURE_SECRET) -> None:
    estate = endpoint.estate
    controller.catalog.add_vault(
        name="dr-vault",
        subscription_id=estate.subscription_id,
        resource_group=estate.resource_group,
        vault=estate.vault,
        tenant_id=AZURE_TENANT,
        client_id=AZURE_CLIENT,
        client_secret=Secret(secret),
        base_url=endpoint.base_url,
        authority=endpoint.base_url,
        ca_pem=Path(endpoint.ca_file).read_text(),
    )


def test_a_vault_import_stores_the_failed_over_items_servers_and_plans(controller: Controller, local_azure: LocalAzure):
    add_local_vault(controller, local_azure)
    job = controller.run(AZURE_IMPORT, {"vault": "dr-vault"})
    assert job.state == JobState.SUCCEEDED, job.error
    estate = local_azure.estate
    items = controller.inventory.items(["protected-item"], source_name="dr-vault")
    assert sorted(entry.item.details["ref"]["name"] for entry in items) == sorted(item.name for item in estate.items)
    assert all(entry.item.key.lower().startswith(f"/subscriptions/{estate.subscription_id}") for entry in items)
    kinds = job.steps[1].output["counts"]
    assert kinds["process-server"] >= 1
    assert kinds["master-target"] >= 1
    assert kinds["recovery-plan"] >= 1
    failed_over = [entry.item for entry in items if entry.item.details["active_location"] == "Recovery"]
    assert failed_over, "the demo estate has items failed over to Azure"


def test_a_wrong_client_secret_fails_the_import_at_sign_in(controller: Controller, local_azure: LocalAzure):
    add_local_vault(controller, local_azure, secret="wrong-secret-value")
    job = controller.run(AZURE_IMPORT, {"vault": "dr-vault"})
    assert job.state == JobState.FAILED
    assert job.steps[0].state == "failed"
    assert "wrong-secret-value" not in f"{job.error} {job.remedy}"


def test_a_second_refresh_of_the_same_source_is_refused_while_one_runs(controller: Controller, local_azure: LocalAzure):
    add_local_vault(controller, local_azure)
    first = controller.jobs.submit(AZURE_IMPORT, {"vault": "dr-vault"}, created_by="operator/admin")
    with pytest.raises(Exception, match=f"busy with job {first.id}"):
        controller.jobs.submit(AZURE_IMPORT, {"vault": "dr-vault"}, created_by="operator/admin")
    assert controller.runner.run_claimed(first.id)
    assert controller.jobs.get(first.id).finished_at <= dt.datetime.now(dt.UTC)
