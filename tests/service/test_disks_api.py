"""The Disks service of a real master-target agent, over mutual TLS, on a fake master target's sysfs tree."""

from collections.abc import Iterator

import grpc
import pytest

from agent.api.v1 import disks_pb2, disks_pb2_grpc
from failback.identity import Role
from failback.serving import secure_channel
from tests.discovery.conftest import OS_ID, TARGET_B, TARGET_C
from tests.discovery.scenarios import master_target, without_enable_uuid
from tests.discovery.sysfs_tree import FakeSysfs
from tests.harness import AgentProcess, ControllerProcess, register_agent, start_agent


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> FakeSysfs:
    return master_target(FakeSysfs(tmp_path_factory.mktemp("sysfs") / "root"))


@pytest.fixture(scope="module")
def master(
    controller: ControllerProcess, tree: FakeSysfs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    agent = start_agent(
        controller,
        tmp_path_factory.mktemp("mt"),
        "mt-disks",
        Role.MASTER_TARGET,
        extra=f'[discovery]\nsysfs_root = "{tree.root}"\n',
    )
    yield agent
    assert agent.stop() == 0


@pytest.fixture
def disks(master: AgentProcess, controller: ControllerProcess) -> Iterator[disks_pb2_grpc.DisksStub]:
    with secure_channel(str(master.address), controller.own_tls(), master.identity) as channel:
        yield disks_pb2_grpc.DisksStub(channel)


def test_list_disks_reports_ids_roles_and_capacity(disks: disks_pb2_grpc.DisksStub):
    inventory = disks.ListDisks(disks_pb2.ListDisksRequest(), timeout=10)
    assert inventory.source == "sysfs"
    by_name = {disk.name: disk for disk in inventory.disks}
    assert by_name["sda"].disk_id == f"naa.{OS_ID}"
    assert "os" in by_name["sda"].roles
    assert by_name["sdb"].hctl == "2:0:0:0"
    assert (inventory.capacity.limit, inventory.capacity.attached) == (60, 4)


def test_resolve_accepts_the_vsphere_spelling_of_the_id(disks: disks_pb2_grpc.DisksStub):
    vsphere_uuid = f"{TARGET_C[:8]}-{TARGET_C[8:12]}-{TARGET_C[12:16]}-{TARGET_C[16:20]}-{TARGET_C[20:]}".upper()
    disk = disks.ResolveDisk(disks_pb2.DiskRequest(disk_id=vsphere_uuid), timeout=10)
    assert (disk.name, disk.disk_id) == ("sdc", f"naa.{TARGET_C}")


def test_an_id_that_is_not_attached_is_not_found_with_the_ids_seen(disks: disks_pb2_grpc.DisksStub):
    with pytest.raises(grpc.RpcError) as info:
        disks.ResolveDisk(disks_pb2.DiskRequest(disk_id="naa.6000c29" + "0" * 25), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert f"naa.{TARGET_B}" in info.value.details()


def test_garbage_is_an_invalid_argument(disks: disks_pb2_grpc.DisksStub):
    with pytest.raises(grpc.RpcError) as info:
        disks.ResolveDisk(disks_pb2.DiskRequest(disk_id="/dev/sdb"), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_os_disk_cannot_be_prepared_as_a_target(disks: disks_pb2_grpc.DisksStub):
    with pytest.raises(grpc.RpcError) as info:
        disks.PrepareDisk(disks_pb2.DiskRequest(disk_id=f"naa.{OS_ID}"), timeout=10)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_process_server_may_not_call_the_disks_service(master: AgentProcess, controller: ControllerProcess, tmp_path):
    from failback.serving import load_tls_identity

    ps_tls = load_tls_identity(register_agent(controller, tmp_path, "ps-nosy", Role.PROCESS_SERVER) / "tls", remedy="")
    with secure_channel(str(master.address), ps_tls, master.identity) as channel, pytest.raises(grpc.RpcError) as info:
        disks_pb2_grpc.DisksStub(channel).ListDisks(disks_pb2.ListDisksRequest(), timeout=10)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_without_enable_uuid_resolution_names_the_fix(controller: ControllerProcess, tmp_path):
    tree = without_enable_uuid(FakeSysfs(tmp_path / "root"), page=True)
    agent = start_agent(
        controller, tmp_path, "mt-noeuuid", Role.MASTER_TARGET, extra=f'[discovery]\nsysfs_root = "{tree.root}"\n'
    )
    try:
        with secure_channel(str(agent.address), controller.own_tls(), agent.identity) as channel:
            stub = disks_pb2_grpc.DisksStub(channel)
            inventory = stub.ListDisks(disks_pb2.ListDisksRequest(), timeout=10)
            assert any("disk.EnableUUID" in problem for problem in inventory.problems)
            with pytest.raises(grpc.RpcError) as info:
                stub.ResolveDisk(disks_pb2.DiskRequest(disk_id=f"naa.{TARGET_B}"), timeout=10)
        assert "disk.EnableUUID = TRUE" in info.value.details()
    finally:
        assert agent.stop() == 0


def test_disk_counts_are_exported_as_metrics(master: AgentProcess):
    import urllib.request

    with urllib.request.urlopen(f"http://{master.metrics.host}:{master.metrics.port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    assert 'failback_agent_disks{state="candidates"} 2.0' in text
    assert "failback_agent_disk_slots_free 56.0" in text
