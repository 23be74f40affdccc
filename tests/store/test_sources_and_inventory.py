"""vCenters, vaults and inventory snapshots in the store, on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from sqlalchemy import select

from controller.store import (
    Database,
    InventoryItem,
    InventoryStore,
    JobStore,
    SourceExists,
    SourceNotFound,
    Sources,
    StepSpec,
    StoreError,
)
from controller.store._models import InventorySnapshot

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def add_vcenter(sources: Sources, name: str = "vc1"):
    return sources.add_vcenter(
        name=name,
        address="vc1.example:443",
        username="failback@vsphere.local",
        password_sealed=b"sealed",
        ca_pem=None,
        thumbprint_sha256="ab" * 32,
        now=NOW,
    )


def test_a_vcenter_is_listed_without_its_sealed_password(database: Database):
    sources = Sources(database)
    row = add_vcenter(sources)
    assert (row.name, row.address, row.username) == ("vc1", "vc1.example:443", "failback@vsphere.local")
    assert not hasattr(row, "password_sealed")
    assert sources.vcenter_password("vc1") == b"sealed"
    assert [row.name for row in sources.vcenters()] == ["vc1"]


def test_a_source_name_is_registered_once(database: Database):
    sources = Sources(database)
    add_vcenter(sources)
    with pytest.raises(SourceExists, match="'vc1' is already registered"):
        add_vcenter(sources)


def test_an_unknown_source_says_where_to_look(database: Database):
    with pytest.raises(SourceNotFound) as missing:
        Sources(database).vault("nope")
    assert missing.value.remedy == "see 'failbackctl azure list'"


def vms(*names: str) -> list[InventoryItem]:
    items = []
    for n, name in enumerate(names):
        uuid = f"5001{n:04d}-0000-0000-0000-000000000000"
        items.append(InventoryItem("vm", uuid, name, "host-1", {"power_state": "poweredOn"}))
        items.append(InventoryItem("disk", f"6000c29{n}", f"{name} disk 1", uuid, {"capacity_bytes": 1 << 30}))
    return items


def test_readers_see_the_newest_snapshot_of_each_source(database: Database):
    store = InventoryStore(database)
    store.save(source_kind="vcenter", source_name="vc1", items=vms("old"), job_id=None, taken_at=NOW)
    snapshot = store.save(source_kind="vcenter", source_name="vc1", items=vms("web", "db"), job_id=None, taken_at=NOW)
    store.save(source_kind="vcenter", source_name="vc2", items=vms("app"), job_id=None, taken_at=NOW)
    assert snapshot.counts == {"disk": 2, "vm": 2}
    listed = [(entry.source_name, entry.item.name) for entry in store.items(["vm"])]
    assert listed == [("vc1", "db"), ("vc1", "web"), ("vc2", "app")]
    assert [entry.item.name for entry in store.items(["vm"], source_name="vc2")] == ["app"]
    disks = {entry.item.name: entry.item for entry in store.items(["disk"], source_name="vc1")}
    assert sorted(disks) == ["db disk 1", "web disk 1"]
    web = disks["web disk 1"]
    assert (web.key, web.parent_key, web.details) == (
        "6000c290",
        "50010000-0000-0000-0000-000000000000",
        {"capacity_bytes": 1 << 30},
    )


def test_saving_again_for_the_same_job_returns_the_first_snapshot(database: Database):
    job = JobStore(database).submit(type="t", params={}, steps=[StepSpec("s", "S")], created_by="o", now=NOW)
    store = InventoryStore(database)
    first = store.save(source_kind="vcenter", source_name="vc1", items=vms("web"), job_id=job.id, taken_at=NOW)
    again = store.save(source_kind="vcenter", source_name="vc1", items=vms("web", "x"), job_id=job.id, taken_at=NOW)
    assert again == first
    assert [entry.item.name for entry in store.items(["vm"])] == ["web"]


def test_only_the_newest_snapshots_are_kept(database: Database):
    store = InventoryStore(database, keep=2)
    ids = [
        store.save(source_kind="azure", source_name="v1", items=vms(f"vm{n}"), job_id=None, taken_at=NOW).id
        for n in range(4)
    ]
    with database.session() as session:
        kept = list(session.scalars(select(InventorySnapshot.id).order_by(InventorySnapshot.id)))
    assert kept == ids[-2:]


def test_a_snapshot_listing_one_object_twice_is_refused_whole(database: Database):
    store = InventoryStore(database)
    with pytest.raises(StoreError, match="more than once"):
        store.save(source_kind="vcenter", source_name="vc1", items=vms("a") + vms("a"), job_id=None, taken_at=NOW)
    assert store.latest("vcenter", "vc1") is None
