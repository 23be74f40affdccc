from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.discovery import UdevDisk
from tests.conftest import skip_or_fail
from tests.discovery.sysfs_tree import FakeSysfs

OS_ID = "6000c29a11111111111111111111111a"
TARGET_B = "6000c29bba3d8f3b3ce688b1c2c16d07"
TARGET_C = "6000c29c06cb3c70207332f14ebd2be4"
RETENTION_ID = "6000c29d0000000000000000000000d1"


class Clock:
    """A clock and a sleep for failback.retry.Policy; ``on_sleep`` runs at each sleep (the world changing)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: list = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        for action in list(self.on_sleep):
            action(len(self.sleeps))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tree(tmp_path: Path) -> FakeSysfs:
    return FakeSysfs(tmp_path / "root")


def udev_record(tree: FakeSysfs, name: str, *, initialized: bool = True, **properties: str) -> UdevDisk:
    """What libudev would report for a disk of the fake tree."""
    devpath = os.path.relpath(os.path.realpath(tree.sys / "block" / name), tree.sys)
    props = {"DEVPATH": f"/{devpath}", "DEVNAME": f"/dev/{name}", "DEVTYPE": "disk", "SUBSYSTEM": "block"}
    props.update(properties)
    return UdevDisk(devpath=devpath, device_node=f"/dev/{name}", initialized=initialized, properties=props)


def scsi_id_properties(hex_id: str) -> dict[str, str]:
    """The properties 60-persistent-storage.rules imports from ``scsi_id --export`` for an NAA-6 disk."""
    return {
        "ID_BUS": "scsi",
        "ID_SCSI": "1",
        "ID_VENDOR": "VMware",
        "ID_MODEL": "Virtual_disk",
        "ID_SERIAL": f"3{hex_id}",
        "ID_SERIAL_SHORT": hex_id,
        "ID_WWN": f"0x{hex_id[:16]}",
        "ID_WWN_VENDOR_EXTENSION": f"0x{hex_id[16:]}",
        "ID_WWN_WITH_EXTENSION": f"0x{hex_id}",
    }


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[callable]:
    """Creates loop devices on files in tmp_path (``losetup -f --show``) and detaches them afterwards."""
    created: list[str] = []

    def make(size_bytes: int = 64 << 20, name: str = "disk.img") -> str:
        image = tmp_path / name
        with image.open("wb") as out:
            out.truncate(size_bytes)
        try:
            done = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            skip_or_fail(f"cannot create a loop device: {exc}")
        device = done.stdout.strip()
        created.append(device)
        return device

    yield make
    for device in created:
        subprocess.run(["losetup", "-d", device], check=False)
