"""Retention volume eligibility: every refusal with its reason, on real loop-mounted volumes and on realistic
psutil output for Windows."""

from __future__ import annotations

import os
from collections import namedtuple

import psutil
import pytest

from agent.retention import Refusal, RetentionVolumes, VolumeIneligible, VolumeNotFound
from tests.retention.loopfs import loop_volume

Part = namedtuple("Part", "device mountpoint fstype opts")
Usage = namedtuple("Usage", "total used free percent")


def reasons_of(volumes: RetentionVolumes, mountpoint: str) -> tuple[str, ...]:
    return volumes.report(mountpoint).reasons


@pytest.mark.root
@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_a_fresh_ext4_or_xfs_volume_is_eligible_with_its_capacity(tmp_path, fstype: str) -> None:
    with loop_volume(str(tmp_path), fstype) as volume:
        report = RetentionVolumes().require(volume.mountpoint)
        assert report.fstype == fstype
        assert 40 << 20 < report.capacity <= 64 << 20
        assert 0 < report.free <= report.capacity
        assert report.threshold_pct == 80.0
        assert not report.over_threshold


def test_a_vfat_volume_is_refused_with_the_file_systems_to_use() -> None:
    # This kernel has no vfat driver (and cannot load modules), so the mount table entry is psutil's output for a
    # vfat USB disk on Debian 12.
    volumes = RetentionVolumes(
        partitions=lambda: [
            Part(
                "/dev/sdd1",
                "/media/usb",
                "vfat",
                "rw,nosuid,nodev,relatime,fmask=0022,dmask=0022,"
                "codepage=437,iocharset=ascii,shortname=mixed,utf8,errors=remount-ro",
            )
        ],
        usage=lambda path: Usage(32 << 30, 1 << 30, 31 << 30, 3.1),
    )
    with pytest.raises(VolumeIneligible) as info:
        volumes.require("/media/usb")
    assert info.value.reasons == (Refusal.FAT.value.format(supported="ext4 or xfs"),)


@pytest.mark.root
def test_a_read_only_volume_is_refused(tmp_path) -> None:
    with loop_volume(str(tmp_path), "ext4", readonly=True) as volume:
        assert reasons_of(RetentionVolumes(), volume.mountpoint) == (Refusal.READ_ONLY.value,)


@pytest.mark.root
def test_a_volume_on_a_replication_target_disk_is_refused(tmp_path) -> None:
    with loop_volume(str(tmp_path), "xfs") as volume:
        volumes = RetentionVolumes(targets=[volume.device])
        assert reasons_of(volumes, volume.mountpoint) == (Refusal.REPLICATION_TARGET.value,)


@pytest.mark.root
def test_the_volume_holding_the_agent_install_or_cache_is_refused(tmp_path) -> None:
    with loop_volume(str(tmp_path), "ext4") as volume:
        volumes = RetentionVolumes(agent_paths=[os.path.join(volume.mountpoint, "cache", "failback")])
        assert reasons_of(volumes, volume.mountpoint) == (Refusal.AGENT_VOLUME.value,)


@pytest.mark.root
def test_an_unsupported_file_system_is_refused(tmp_path) -> None:
    mountpoint = str(tmp_path / "tmpfs")
    os.makedirs(mountpoint)
    import subprocess

    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mountpoint], check=True)
    try:
        volumes = RetentionVolumes(partitions=lambda: psutil.disk_partitions(all=True))
        assert reasons_of(volumes, mountpoint) == (
            Refusal.UNSUPPORTED_FS.value.format(fstype="tmpfs", supported="ext4 or xfs"),
        )
    finally:
        subprocess.run(["umount", mountpoint], check=True)


def test_the_root_volume_is_refused() -> None:
    volumes = RetentionVolumes(partitions=lambda: psutil.disk_partitions(all=True))
    assert Refusal.OS_VOLUME.value in reasons_of(volumes, "/")


def test_a_volume_reporting_zero_capacity_is_refused() -> None:
    volumes = RetentionVolumes(
        partitions=lambda: [Part("/dev/sdc1", "/data", "ext4", "rw,relatime")],
        usage=lambda path: Usage(0, 0, 0, 0.0),
    )
    assert reasons_of(volumes, "/data") == (Refusal.ZERO_CAPACITY.value,)


def test_an_unknown_mount_point_names_the_volumes_there_are() -> None:
    volumes = RetentionVolumes(partitions=lambda: [Part("/dev/sdc1", "/data", "ext4", "rw")])
    with pytest.raises(VolumeNotFound, match="/data"):
        volumes.report("/nowhere")


# psutil.disk_partitions() on Windows Server 2022, as the agent sees it (system on C:, data on D:..H:).
WINDOWS = [
    Part("C:\\", "C:\\", "NTFS", "rw,fixed"),
    Part("D:\\", "D:\\", "NTFS", "rw,fixed"),
    Part("E:\\", "E:\\", "ReFS", "rw,fixed"),
    Part("F:\\", "F:\\", "FAT32", "rw,removable"),
    Part("G:\\", "G:\\", "CDFS", "ro,cdrom"),
    Part("H:\\", "H:\\", "NTFS", "rw,fixed"),
    Part("I:\\", "I:\\", "NTFS", "ro,fixed"),
]


def windows(**kwargs) -> RetentionVolumes:
    sizes = {"G:\\": 0}
    return RetentionVolumes(
        platform="win32",
        partitions=lambda: WINDOWS,
        usage=lambda path: Usage(sizes.get(path, 500 << 30), 0, sizes.get(path, 200 << 30), 0.0),
        agent_paths=kwargs.pop("agent_paths", ["C:\\Program Files\\failback"]),
        system_drive="C:",
        **kwargs,
    )


@pytest.mark.parametrize("letter", ["D:", "d:", "D:\\", "E:/"])
def test_windows_ntfs_and_refs_volumes_are_eligible_by_drive_letter(letter: str) -> None:
    report = windows().require(letter)
    assert report.capacity == 500 << 30
    assert report.used_pct == 60.0


@pytest.mark.parametrize(
    ("letter", "kwargs", "expected"),
    [
        ("C:", {}, (Refusal.OS_VOLUME.value,)),
        ("F:", {}, (Refusal.FAT.value.format(supported="ntfs or refs"),)),
        (
            "G:",
            {},
            (
                Refusal.UNSUPPORTED_FS.value.format(fstype="cdfs", supported="ntfs or refs"),
                Refusal.READ_ONLY.value,
                Refusal.ZERO_CAPACITY.value,
            ),
        ),
        ("H:", {"targets": ["H:"]}, (Refusal.REPLICATION_TARGET.value,)),
        ("D:", {"agent_paths": ["d:\\failback\\cache"]}, (Refusal.AGENT_VOLUME.value,)),
        ("I:", {}, (Refusal.READ_ONLY.value,)),
    ],
)
def test_windows_refusals_name_their_reason(letter: str, kwargs: dict, expected: tuple[str, ...]) -> None:
    assert reasons_of(windows(**kwargs), letter) == expected


def test_every_volume_is_reported_with_its_verdict() -> None:
    reports = {r.mountpoint: r.eligible for r in windows().reports()}
    assert reports == {
        "C:\\": False,
        "D:\\": True,
        "E:\\": True,
        "F:\\": False,
        "G:\\": False,
        "H:\\": True,
        "I:\\": False,
    }
