"""``failback-agent disks`` run as a real process, on this machine and on fake sysfs trees."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.discovery.conftest import OS_ID, RETENTION_ID, TARGET_B, TARGET_C
from tests.discovery.scenarios import PVSCSI_PCI, master_target, without_enable_uuid
from tests.discovery.sysfs_tree import FakeSysfs, vmware_pg83

ROOT = Path(__file__).resolve().parents[2]


def agent(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "agent", "disks", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_json_on_this_machine_lists_every_disk_in_sys_block_with_its_size(tmp_path):
    done = agent("--output", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["schema"], doc["platform"]) == (1, "linux")
    expected = {}
    for entry in Path("/sys/block").iterdir():
        sectors = int((entry / "size").read_text())
        if sectors and not entry.name.startswith(("dm-", "md")):
            expected[entry.name] = sectors * 512
    assert {d["name"]: d["size_bytes"] for d in doc["disks"]} == expected
    assert all(d["path"] == f"/dev/{d['name']}" for d in doc["disks"])
    root_device = os.stat("/").st_dev
    holding_root = [d for d in doc["disks"] if os.stat(d["path"]).st_rdev == root_device]
    assert [d["roles"] for d in holding_root] in ([["agent", "os"]], [["os"]], [])
    assert doc["capacity"]["limit"] == 60


def test_json_on_a_fake_master_target(tmp_path):
    tree = master_target(FakeSysfs(tmp_path / "root"))
    done = agent(
        "--output",
        "json",
        "--sysfs-root",
        str(tree.root),
        "--agent-dir",
        "/opt/failback",
        "--retention",
        "/var/lib/failback retention",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["source"] == "sysfs"
    assert [(d["name"], d["id"], d["roles"]) for d in doc["disks"]] == [
        ("sda", f"naa.{OS_ID}", ["agent", "os"]),
        ("sdb", f"naa.{TARGET_B}", []),
        ("sdc", f"naa.{TARGET_C}", []),
        ("sdd", f"naa.{RETENTION_ID}", ["retention"]),
    ]
    assert doc["disks"][1]["hctl"] == {"host": 2, "channel": 0, "target": 0, "lun": 0}
    assert doc["problems"] == []
    assert doc["counts"]["candidates"] == 2
    assert doc["capacity"]["attached"] == 4
    assert doc["capacity"]["free"] == 56


def test_problems_are_listed_and_the_exit_code_stays_zero(tmp_path):
    tree = master_target(FakeSysfs(tmp_path / "root"))
    tree.scsi_host(3, "vmw_pvscsi", pci="0000:04:00.0", pci_id=PVSCSI_PCI)
    tree.scsi_disk("sde", (3, 0, 0, 0), vpd83=vmware_pg83(TARGET_B))
    done = agent("--output", "json", "--sysfs-root", str(tree.root), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    problems = json.loads(done.stdout)["problems"]
    assert len(problems) == 1
    assert "/dev/sdb at 2:0:0:0, /dev/sde at 3:0:0:0" in problems[0]


def test_the_table_names_devices_ids_and_the_enable_uuid_fix(tmp_path):
    tree = without_enable_uuid(FakeSysfs(tmp_path / "root"), page=False)
    env_wide = {"COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "agent", "disks", "--sysfs-root", str(tree.root)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env_wide},
    )
    assert done.returncode == 0, done.stderr
    assert "/dev/sdb" in done.stdout
    assert "pvscsi" in done.stdout
    assert "2:0:0:0" in done.stdout
    text = " ".join(done.stdout.split())  # rich wraps long lines
    assert "problem:" in text
    assert "disk.EnableUUID = TRUE" in text
    assert "power off the master target VM" in text


def test_usage_errors_exit_2(tmp_path):
    bad_output = agent("--output", "yaml", cwd=tmp_path)
    assert bad_output.returncode == 2
    assert "invalid choice: 'yaml'" in bad_output.stderr
    bad_root = agent("--sysfs-root", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert bad_root.returncode == 2
    assert "has no sys/block directory" in bad_root.stderr


def test_a_discovery_failure_exits_1_with_the_reason(tmp_path):
    tree = master_target(FakeSysfs(tmp_path / "root"))
    (tree.sys / "block" / "sdb" / "size").write_text("lots\n")
    done = agent("--output", "json", "--sysfs-root", str(tree.root), cwd=tmp_path)
    assert done.returncode == 1
    assert "failback-agent: error:" in done.stderr
    assert "holds 'lots', not a sector count" in done.stderr
    assert done.stdout == ""
