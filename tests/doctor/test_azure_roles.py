"""The doctor's azure-snapshot-roles check against a real process server whose [azure] identity reaches the local
Azure endpoint (lab.azure): the agent asks ARM's permissions API with its own credential, the controller's client
reads its answer, and the check passes with every documented action and fails naming one that was taken away."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc
from controller.agents import GrpcAgents
from controller.doctor import AgentFacts, CheckResult, ControllerFacts, DoctorFacts, Status, run_checks
from controller.doctor._gather import Gatherer
from controller.store import AgentRow
from failback.identity import Role
from failback.serving import secure_channel
from lab.azure import Fault, LocalAzure
from tests.harness import AgentProcess, ControllerProcess, start_agent, start_controller
from tests.replication.azure_support import SECRET, Vm, azure_section, local_azure
from tests.replication.support import LAB, Lab

CHECK = "azure-snapshot-roles"
DELETE = "Microsoft.Compute/snapshots/delete"


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    process = start_controller(tmp_path_factory.mktemp("controller"))
    yield process
    assert process.stop() == 0, process.service.log()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAzure]:
    with local_azure(tmp_path_factory.mktemp("azure")) as running:
        yield running


@pytest.fixture(scope="module")
def lab(controller: ControllerProcess, endpoint: LocalAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A master target and a process server with [azure], replicating VM web01 (two disks) from snapshots."""
    directory = tmp_path_factory.mktemp("agents")
    mt = start_agent(controller, directory, "mt-roles", Role.MASTER_TARGET, extra=LAB)
    ps = start_agent(
        controller, directory, "ps-roles", Role.PROCESS_SERVER, extra=LAB + azure_section(endpoint, directory / "s")
    )
    running = Lab(controller, mt, ps, directory)
    vm = Vm.create(endpoint, "web01", [8 << 20, 4 << 20])
    for index, disk in enumerate(vm.disks):
        running.put_source(vm.source(running, f"web01-{index}", disk, 300.0))
    yield running
    assert ps.stop() == 0, ps.service.log()
    assert mt.stop() == 0, mt.service.log()
    assert SECRET not in ps.service.log()


@pytest.fixture(autouse=True)
def every_action(endpoint: LocalAzure) -> Iterator[None]:
    yield
    endpoint.permissions.deny()  # back to every documented action
    endpoint.clear_faults()


def doctor(controller: ControllerProcess, ps: AgentProcess) -> list[CheckResult]:
    """The check as failbackctl doctor gathers and runs it for a plan whose process server is ``ps``."""
    now = dt.datetime.now(dt.UTC)
    agents = GrpcAgents(controller.own_tls)
    # Gathering an agent reads none of the other sources (vCenter, vault, inventory, certificates).
    gatherer = Gatherer(live=True, now=now, catalog=None, inventory=None, open_vcenter=None, open_vault=None,
                        privileges=None, certificate=None, agents=agents)  # type: ignore[arg-type]  # fmt: skip
    row = AgentRow(ps.name, "process-server", "active", "1.0.0", "localhost", now, None)
    try:
        data = gatherer.agent(ps.name, "process-server", address=str(ps.address), row=row, heartbeat=None)
    finally:
        agents.close()
    assert data.answers, data.error
    facts = DoctorFacts(
        now=now,
        controller=ControllerFacts("1.0.0"),
        process_servers=(
            AgentFacts(
                ps.name, "process-server", answers=True, azure_permissions=data.azure, azure_note=data.azure_note
            ),
        ),
    )
    return run_checks(facts, only=[CHECK])


def test_an_identity_with_every_documented_action_passes(lab: Lab, endpoint: LocalAzure):
    (result,) = doctor(lab.controller, lab.ps)
    assert result.status is Status.OK, result
    assert "holds all 7 actions incremental-snapshots of VM web01 need" in result.evidence
    asked = [r for r in endpoint.requests if r.path.endswith("/providers/Microsoft.Authorization/permissions")]
    assert asked, "the process server did not ask Azure"
    assert all(r.query.get("api-version") == ["2022-04-01"] for r in asked)


def test_an_identity_without_snapshots_delete_fails_naming_it_and_the_docs(lab: Lab, endpoint: LocalAzure):
    endpoint.permissions.deny(DELETE)
    (result,) = doctor(lab.controller, lab.ps)
    assert result.status is Status.FAIL, result
    assert DELETE in result.evidence
    assert "VM web01" in result.evidence
    assert result.remedy is not None
    assert f"grant {DELETE} on /subscriptions/" in result.remedy
    assert "docs/azure-permissions.md" in result.remedy
    assert "snapshots/write" not in result.evidence  # only what is missing is named


def test_a_not_action_of_the_same_role_takes_the_action_away(lab: Lab, endpoint: LocalAzure):
    endpoint.permissions.grant([{"actions": ["Microsoft.Compute/*"], "notActions": ["Microsoft.Compute/*/delete"]}])
    (result,) = doctor(lab.controller, lab.ps)
    assert result.status is Status.FAIL, result
    assert DELETE in result.evidence
    assert "snapshots/write" not in result.evidence


def test_a_refused_permissions_api_warns_that_the_roles_could_not_be_read(lab: Lab, endpoint: LocalAzure):
    endpoint.inject(
        Fault(path=r"/Microsoft\.Authorization/permissions$", status=403, times=None, code="AuthorizationFailed")
    )
    (result,) = doctor(lab.controller, lab.ps)
    assert result.status is Status.WARN, result
    assert "permissions API refused" in result.evidence
    assert result.remedy is not None
    assert "Microsoft.Authorization/permissions/read" in result.remedy


def test_an_unreachable_permissions_api_is_reported_as_such_not_as_missing_roles(lab: Lab, endpoint: LocalAzure):
    endpoint.inject(Fault(path=r"/Microsoft\.Authorization/permissions$", status=0, times=None, drop=True))
    (result,) = doctor(lab.controller, lab.ps)
    assert result.status is Status.WARN, result
    assert "permissions API unreachable" in result.evidence
    assert "lacks" not in result.evidence


def test_a_process_server_without_azure_is_not_applicable(controller: ControllerProcess, tmp_path: Path):
    plain = start_agent(controller, tmp_path, "ps-plain", Role.PROCESS_SERVER, extra=LAB)
    try:
        (result,) = doctor(controller, plain)
    finally:
        assert plain.stop() == 0, plain.service.log()
    assert result.status is Status.OK, result
    assert "no [azure] section" in result.evidence
    assert "not applicable" in result.evidence


def test_a_named_vm_is_checked_for_the_mode_asked(lab: Lab, endpoint: LocalAzure):
    endpoint.permissions.deny("Microsoft.Compute/restorePointCollections/restorePoints/write")
    vm = "/subscriptions/{}/resourceGroups/rg-other/providers/Microsoft.Compute/virtualMachines/app01"
    request = pairs_pb2.AzurePermissionsRequest(
        vm_resource_id=vm.format(endpoint.estate.subscription_id),
        consistency=pairs_pb2.POINT_CONSISTENCY_CRASH_RESTORE_POINTS,
        snapshot_resource_group="rg-snaps",
    )
    with lab.channel(lab.ps) as channel:
        answer = pairs_pb2_grpc.SourcePairsStub(channel).CheckAzurePermissions(request, timeout=60)
    (checked,) = answer.vms
    scopes = {s.scope.rsplit("/", 1)[-1]: s for s in checked.scopes}
    assert set(scopes) == {"rg-other", "rg-snaps"}
    assert list(scopes["rg-other"].roles) == ["vm", "disks"]
    assert not scopes["rg-other"].missing_actions
    assert list(scopes["rg-snaps"].missing_actions) == ["Microsoft.Compute/restorePointCollections/restorePoints/write"]


def test_a_malformed_vm_id_is_refused_before_azure_is_asked(lab: Lab, endpoint: LocalAzure):
    endpoint.clear_requests()
    with lab.channel(lab.ps) as channel, pytest.raises(grpc.RpcError) as raised:
        pairs_pb2_grpc.SourcePairsStub(channel).CheckAzurePermissions(
            pairs_pb2.AzurePermissionsRequest(vm_resource_id="web01"), timeout=60
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not an ARM resource id" in (raised.value.details() or "")
    assert not [r for r in endpoint.requests if "Authorization" in r.path]


def test_only_the_controller_may_ask(lab: Lab):
    (lab.directory / "senders").mkdir(exist_ok=True)
    other = lab.process_server_tls("ps-roles-x")
    with secure_channel(str(lab.ps.address), other, lab.ps.identity) as channel, pytest.raises(grpc.RpcError) as raised:
        pairs_pb2_grpc.SourcePairsStub(channel).CheckAzurePermissions(pairs_pb2.AzurePermissionsRequest(), timeout=60)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
