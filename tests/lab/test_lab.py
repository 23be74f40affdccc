"""``failbackctl lab up|status|down`` as a user runs them: real processes, real mutual TLS, the real simulator."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.api.v1 import disks_pb2, disks_pb2_grpc
from controller.vsphere import Credentials
from controller.vsphere import connect as product_connect
from failback.diskid import normalize_disk_id
from failback.identity import Identity, Role
from failback.serving import load_tls_identity, secure_channel
from tests.harness import run_cli

pytestmark = [pytest.mark.vcsim, pytest.mark.slow]


def lab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run_cli("controller.cli", "lab", *args, timeout=timeout)


def lab_status(directory: Path) -> dict[str, Any]:
    result = lab("status", "--dir", str(directory), "--output", "json")
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def running_lab(tmp_path_factory: pytest.TempPathFactory, vcsim_binary: Path) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("lab") / "lab"
    result = lab("up", "--dir", str(directory))
    assert result.returncode == 0, result.stderr
    yield directory
    result = lab("down", "--dir", str(directory))
    assert result.returncode == 0, result.stderr


def test_every_process_runs_and_both_agents_are_registered_and_healthy(running_lab: Path):
    document = lab_status(running_lab)
    assert document["state"] == "up"
    assert [p["name"] for p in document["processes"]] == ["vcsim", "controller", "shim", "ps-lab", "mt-lab", "azure"]
    assert all(p["running"] for p in document["processes"])
    servers = run_cli("controller.cli", "--config", document["failbackctl_config"], "servers", "--output", "json")
    assert servers.returncode == 0, servers.stderr
    agents = {a["name"]: a for a in json.loads(servers.stdout)["agents"]}
    assert {name: (a["role"], a["health"]) for name, a in agents.items()} == {
        "ps-lab": ("process-server", "ok"),
        "mt-lab": ("master-target", "ok"),
    }


def test_the_status_document_keeps_its_documented_keys(running_lab: Path):
    document = lab_status(running_lab)
    assert set(document) == {
        "schema", "dir", "state", "failbackctl_config", "plan", "processes", "endpoints", "vms", "master_target",
    }  # fmt: skip
    assert document["schema"] == 1
    assert set(document["endpoints"]) == {"vcenter", "azure", "controller", "agents"}
    vm = document["vms"][0]
    assert set(vm) == {"name", "physical", "azure", "onprem", "bookmarks"}
    assert set(vm["azure"]) == {"power_state", "protection_state", "disks"}
    assert set(vm["azure"]["disks"][0]) == {"disk_id", "path", "size_bytes", "change_log"}
    assert set(vm["onprem"]) == {"instance_uuid", "power_state", "disks"}
    assert set(vm["onprem"]["disks"][0]) == {"disk_id", "vmdk", "path", "size_bytes", "attached_to", "replication"}
    assert set(document["master_target"]) == {
        "vm", "instance_uuid", "guest_root", "dev_root", "retention", "devices", "replication_error",
    }  # fmt: skip
    assert set(document["master_target"]["devices"][0]) == {"name", "hctl", "disk_id", "vmdk", "path", "file"}


def test_the_estate_and_the_simulator_describe_the_same_machines(running_lab: Path):
    document = lab_status(running_lab)
    items = run_cli(
        "controller.cli", "--config", document["failbackctl_config"], "inventory", "items", "--output", "json"
    )
    assert items.returncode == 0, items.stderr
    listed = json.loads(items.stdout)
    text = json.dumps(listed)
    for vm in document["vms"]:
        assert vm["azure"]["power_state"] == "running"
        assert vm["azure"]["protection_state"] == "UnplannedFailoverCommitted"
        assert vm["onprem"]["power_state"] == "poweredOff"
        for disk in vm["onprem"]["disks"]:
            assert disk["attached_to"] == vm["name"]
            assert Path(disk["path"]).stat().st_size == disk["size_bytes"]
            assert disk["disk_id"] in text  # the protected item carries the on-premises VMDK's id


def test_a_vmdk_attached_to_the_master_target_is_resolved_by_its_disks_api_and_shown_by_status(running_lab: Path):
    document = lab_status(running_lab)
    vm = next(v for v in document["vms"] if v["name"] == "app01")
    disk = vm["onprem"]["disks"][0]
    vc = document["endpoints"]["vcenter"]
    port = int(vc["url"].rsplit(":", 1)[1].split("/")[0])
    credentials = Credentials(
        host="127.0.0.1", port=port, user=vc["username"], password=Path(vc["password_file"]).read_text(),
        ca_file=Path(vc["ca_file"]),
    )  # fmt: skip
    mt_uuid = document["master_target"]["instance_uuid"]
    tls = load_tls_identity(running_lab / "controller" / "state" / "tls", remedy="")
    address = document["endpoints"]["agents"]["mt-lab"]["address"]
    with (
        product_connect(credentials) as vcenter,
        secure_channel(address, tls, Identity(Role.MASTER_TARGET, "mt-lab")) as channel,
    ):
        disks = disks_pb2_grpc.DisksStub(channel)
        vcenter.detach_disk(vm["onprem"]["instance_uuid"], disk["disk_id"])
        vcenter.attach_disk(mt_uuid, disk["vmdk"])
        try:
            disks.Rescan(disks_pb2.RescanRequest(expected_ids=[disk["disk_id"]]), timeout=30)
            resolved = disks.ResolveDisk(disks_pb2.DiskRequest(disk_id=disk["disk_id"]), timeout=10)
            assert resolved.disk_id == normalize_disk_id(disk["disk_id"])
            assert os.path.realpath(resolved.path) == disk["path"]
            during = lab_status(running_lab)
            moved = next(v for v in during["vms"] if v["name"] == "app01")["onprem"]["disks"][0]
            assert moved["attached_to"] == "mt-lab"
            device = next(d for d in during["master_target"]["devices"] if d["disk_id"] == disk["disk_id"])
            assert (device["path"], device["file"]) == (resolved.path, disk["path"])
            disks.RemoveDisk(disks_pb2.DiskRequest(disk_id=disk["disk_id"]), timeout=30)
            assert not Path(resolved.path).exists()
        finally:
            vcenter.detach_disk(mt_uuid, disk["disk_id"])
            vcenter.attach_disk(vm["onprem"]["instance_uuid"], disk["vmdk"])
    after = lab_status(running_lab)
    assert next(v for v in after["vms"] if v["name"] == "app01")["onprem"]["disks"][0]["attached_to"] == "app01"
    assert [d["name"] for d in after["master_target"]["devices"]] == ["sda"]


def test_the_plan_lab_up_writes_is_accepted_by_the_controller(running_lab: Path):
    document = lab_status(running_lab)
    result = run_cli(
        "controller.cli", "--config", document["failbackctl_config"], "plan", "apply", document["plan"], "--dry-run",
        "--output", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    planned = json.loads(result.stdout)
    assert planned["stored"] is False
    assert {step["item"] for step in planned["steps"]} >= {"web01", "app01", "db01"}


def test_up_refuses_a_directory_that_holds_a_lab(running_lab: Path):
    before = (running_lab / "lab.json").read_text()
    result = lab("up", "--dir", str(running_lab))
    assert result.returncode == 1
    assert "a lab is already in" in result.stderr
    assert (running_lab / "lab.json").read_text() == before


def _running(pid: int) -> bool:
    """A process that still runs; an exited one waiting for init to reap it (a zombie) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _loop_backing_files() -> list[str]:
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            found.append(backing.read_text().strip())
        except OSError:
            continue
    return found


def test_down_leaves_no_process_directory_loop_device_or_simulator_folder(tmp_path: Path, vcsim_binary: Path):
    directory = tmp_path / "lab"
    assert lab("up", "--dir", str(directory)).returncode == 0
    document = lab_status(directory)
    pids = [p["pid"] for p in document["processes"]]
    datastore = Path(document["vms"][0]["onprem"]["disks"][0]["path"]).parents[1]
    result = lab("down", "--dir", str(directory), "--output", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stopped"] == ["azure", "mt-lab", "ps-lab", "shim", "controller", "vcsim"]
    assert not directory.exists()
    assert not datastore.exists()
    assert [pid for pid in pids if _running(pid)] == []
    assert [f for f in _loop_backing_files() if f.startswith(str(tmp_path))] == []
    assert lab("status", "--dir", str(directory)).returncode == 1
