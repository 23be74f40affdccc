"""The local endpoint's managed-disk contract, driven by the real azure-mgmt-compute and azure-storage-blob clients:
it must behave as Azure does for the source's tests to mean anything (changed pages at 512-byte granularity with
cleared ranges, paging, SAS expiry and revocation, the documented limits)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceExistsError
from azure.mgmt.compute import ComputeManagementClient
from azure.storage.blob import BlobClient

from lab.azure import LocalAzure
from lab.azure._disks import ManagedDisk

from ._helpers import Guest, SimClock, StaticToken
from .conftest import DISK_SIZE, disk_id

PAGE = 512


@pytest.fixture
def compute(lab: LocalAzure) -> Iterator[ComputeManagementClient]:
    client = ComputeManagementClient(
        StaticToken(),
        lab.estate.subscription_id,
        base_url=lab.base_url,
        connection_verify=lab.ca_file,
        polling_interval=0,
        retry_total=0,
    )
    with client:
        yield client


def snapshot(compute: ComputeManagementClient, lab: LocalAzure, disk: ManagedDisk, name: str) -> Any:
    body = {
        "location": "westeurope",
        "tags": {"failback-group": "t"},
        "properties": {
            "creationData": {"createOption": "Copy", "sourceResourceId": disk_id(lab, disk)},
            "incremental": True,
        },
    }
    return compute.snapshots.begin_create_or_update("rg-dr", name, body).result()  # type: ignore[call-overload]


def sas(compute: ComputeManagementClient, name: str, seconds: int = 3600) -> str:
    access = compute.snapshots.begin_grant_access(  # type: ignore[call-overload]
        "rg-dr", name, {"access": "Read", "durationInSeconds": seconds}
    ).result()
    return str(access.access_sas)


def blob(lab: LocalAzure, url: str) -> BlobClient:
    return BlobClient.from_blob_url(url, connection_verify=lab.ca_file, retry_total=0)


def page_states(written: list[dict[str, int]], cleared: list[dict[str, int]]) -> dict[int, str]:
    states: dict[int, str] = {}
    for ranges, state in ((written, "w"), (cleared, "c")):
        for r in ranges:
            assert r["start"] % PAGE == 0
            assert (r["end"] + 1) % PAGE == 0
            for page in range(r["start"] // PAGE, (r["end"] + 1) // PAGE):
                assert page not in states, "a page reported twice"
                states[page] = state
    return states


def test_the_diff_reports_every_written_and_cleared_page_at_512_byte_granularity(
    lab: LocalAzure, compute: ComputeManagementClient, os_disk: ManagedDisk
) -> None:
    guest = Guest(os_disk, seed=21)
    guest.scribble(40)
    snapshot(compute, lab, os_disk, "a")
    guest.mark()
    guest.scribble(60, trims=0.3)
    oracle = guest.mark()
    snapshot(compute, lab, os_disk, "b")
    written, cleared = blob(lab, sas(compute, "b")).get_page_range_diff_for_managed_disk(sas(compute, "a"))
    assert page_states(written, cleared) == oracle
    assert all(a["end"] + 1 < b["start"] for a, b in itertools.pairwise(written))  # coalesced
    # Whatever differs in content between the two images is in the diff (the diff may list more: rewrites).
    a, b = (lab.disks.snapshot("rg-dr", n) for n in ("a", "b"))
    assert a is not None
    assert b is not None
    image_a, image_b = a.path.read_bytes(), b.path.read_bytes()
    differing = {
        p for p in range(DISK_SIZE // PAGE) if image_a[p * PAGE : (p + 1) * PAGE] != image_b[p * PAGE : (p + 1) * PAGE]
    }
    assert differing <= set(oracle)


def test_a_rewrite_with_the_same_bytes_is_still_a_changed_page(
    lab: LocalAzure, compute: ComputeManagementClient, os_disk: ManagedDisk
) -> None:
    os_disk.write(8 * PAGE, b"x" * PAGE)
    snapshot(compute, lab, os_disk, "a")
    os_disk.write(8 * PAGE, b"x" * PAGE)
    snapshot(compute, lab, os_disk, "b")
    written, cleared = blob(lab, sas(compute, "b")).get_page_range_diff_for_managed_disk(sas(compute, "a"))
    assert (written, cleared) == ([{"start": 8 * PAGE, "end": 9 * PAGE - 1}], [])


def test_the_page_list_of_an_image_holds_its_allocated_ranges_and_reads_return_its_bytes(
    lab: LocalAzure, compute: ComputeManagementClient, os_disk: ManagedDisk
) -> None:
    os_disk.write(0, b"a" * 4096)
    os_disk.write(1 << 20, b"b" * 2048)
    os_disk.trim(1024, 1024)
    snapshot(compute, lab, os_disk, "a")
    os_disk.write(0, b"z" * 4096)  # after the snapshot: not in it
    client = blob(lab, sas(compute, "a"))
    assert [(r.start, r.end) for r in client.list_page_ranges()] == [
        (0, 1023),
        (2048, 4095),
        (1 << 20, (1 << 20) + 2047),
    ]
    assert client.download_blob(offset=0, length=4096).readall() == b"a" * 1024 + bytes(1024) + b"a" * 2048


def test_download_blob_lists_every_page_range_before_a_ranged_read_of_a_page_blob(
    lab: LocalAzure, compute: ComputeManagementClient, os_disk: ManagedDisk
) -> None:
    """Why the source reads with plain ranged GETs: the SDK's download of a page blob adds a full Get Page Ranges."""
    os_disk.write(0, b"a" * 4096)
    snapshot(compute, lab, os_disk, "a")
    client = blob(lab, sas(compute, "a"))
    lab.clear_requests()
    client.download_blob(offset=0, length=4096).readall()
    assert [r.param("comp") for r in lab.requests] == [None, "pagelist"]


def test_page_lists_are_paged_with_next_marker(
    lab: LocalAzure, compute: ComputeManagementClient, os_disk: ManagedDisk
) -> None:
    for i in range(7):
        os_disk.write(i * 2 * PAGE, b"x" * PAGE)
    snapshot(compute, lab, os_disk, "a")
    pages = list(blob(lab, sas(compute, "a")).list_page_ranges(results_per_page=3).by_page())
    assert [len(list(p)) for p in pages] == [3, 3, 1]
    assert [r.param("maxresults") for r in lab.requests if r.param("comp") == "pagelist"] == ["3", "3", "3"]


def test_a_sas_stops_working_when_it_expires_or_is_revoked(
    lab: LocalAzure, compute: ComputeManagementClient, clock: SimClock, os_disk: ManagedDisk
) -> None:
    snapshot(compute, lab, os_disk, "a")
    client = blob(lab, sas(compute, "a", seconds=600))
    client.download_blob(offset=0, length=512).readall()
    clock.advance(601)
    with pytest.raises(ClientAuthenticationError) as expired:
        client.download_blob(offset=0, length=512).readall()
    assert expired.value.error_code == "AuthenticationFailed"
    client = blob(lab, sas(compute, "a"))
    compute.snapshots.begin_revoke_access("rg-dr", "a").result()
    with pytest.raises(ClientAuthenticationError):
        client.download_blob(offset=0, length=512).readall()


def test_a_snapshot_with_an_active_sas_cannot_be_deleted_until_revoked(
    lab: LocalAzure, compute: ComputeManagementClient, os_disk: ManagedDisk
) -> None:
    snapshot(compute, lab, os_disk, "a")
    sas(compute, "a")
    with pytest.raises(ResourceExistsError, match="revoke"):
        compute.snapshots.begin_delete("rg-dr", "a").result()
    compute.snapshots.begin_revoke_access("rg-dr", "a").result()
    compute.snapshots.begin_delete("rg-dr", "a").result()
    assert lab.disks.snapshots == {}


def test_at_most_seven_incremental_snapshots_of_a_disk_in_five_minutes(
    lab: LocalAzure, compute: ComputeManagementClient, clock: SimClock, os_disk: ManagedDisk
) -> None:
    for i in range(7):
        snapshot(compute, lab, os_disk, f"s{i}")
        clock.advance(10)
    with pytest.raises(ResourceExistsError, match="at most 7"):
        snapshot(compute, lab, os_disk, "s7")
    clock.advance(300 - 60)
    snapshot(compute, lab, os_disk, "s7")


def test_the_previous_snapshot_must_be_an_older_image_of_the_same_disk(
    lab: LocalAzure, compute: ComputeManagementClient, os_disk: ManagedDisk, data_disk: ManagedDisk
) -> None:
    snapshot(compute, lab, os_disk, "a")
    snapshot(compute, lab, os_disk, "b")
    snapshot(compute, lab, data_disk, "other")
    with pytest.raises(HttpResponseError) as newer:
        blob(lab, sas(compute, "a")).get_page_range_diff_for_managed_disk(sas(compute, "b"))
    assert newer.value.error_code == "PreviousSnapshotCannotBeNewer"
    with pytest.raises(HttpResponseError) as foreign:
        blob(lab, sas(compute, "b")).get_page_range_diff_for_managed_disk(sas(compute, "other"))
    assert foreign.value.error_code == "PreviousSnapshotOperationNotSupported"


def test_restore_points_hold_every_disk_not_excluded_and_respect_the_hourly_limit(
    lab: LocalAzure, compute: ComputeManagementClient, clock: SimClock, os_disk: ManagedDisk, data_disk: ManagedDisk
) -> None:
    vm_id = disk_id(lab, os_disk).replace("/disks/web01-os", "/virtualMachines/web01")
    compute.restore_point_collections.create_or_update(  # type: ignore[call-overload]
        "rg-dr", "c", {"location": "westeurope", "properties": {"source": {"id": vm_id}}}
    )
    body = {"properties": {"consistencyMode": "CrashConsistent", "excludeDisks": [{"id": disk_id(lab, data_disk)}]}}
    point = compute.restore_points.begin_create("rg-dr", "c", "rp1", body).result()  # type: ignore[call-overload]
    profile = point.properties.source_metadata.storage_profile
    assert "/restorePoints/rp1/diskRestorePoints/web01-os_" in profile.os_disk.disk_restore_point.id
    assert profile.data_disks == []  # excluded
    with pytest.raises(ResourceExistsError, match="minimum spacing"):
        compute.restore_points.begin_create("rg-dr", "c", "rp2", body).result()  # type: ignore[call-overload]
    clock.advance(3600)
    compute.restore_points.begin_create("rg-dr", "c", "rp2", body).result()  # type: ignore[call-overload]
    collection = lab.disks.collection("rg-dr", "c")
    assert collection is not None
    assert sorted(collection.points) == ["rp1", "rp2"]
