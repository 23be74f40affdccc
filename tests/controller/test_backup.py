"""Backup and restore of the whole state, on both engines: every row, the CA, the credential key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.backup import NotABackup, WrongPassphrase, decrypt, encrypt, export_state, restore_state
from controller.ca import CertificateAuthority
from controller.inventory import SourceCatalog
from controller.secrets import KEY_FILE, Secret, SecretBox
from controller.store import (
    Database,
    Enrollment,
    InventoryItem,
    InventoryStore,
    JobStore,
    RestoreRefused,
    Sources,
    StepSpec,
)
from controller.store._models import Base
from tests.store.conftest import MakeDatabase

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
PASSPHRASE = "correct horse battery staple"


def populate(database: Database, state_dir: Path) -> int:
    """A controller's worth of state: CA, an agent, a sealed credential, a snapshot, a running job."""
    CertificateAuthority.load_or_create(state_dir / "ca", name="controller")
    Enrollment(database).register_agent(
        name="mt1", role="master-target", version="0.1.0", hostname="mt1", serial=(1 << 150) + 7,
        not_after=NOW + dt.timedelta(days=7), now=NOW,
    )  # fmt: skip
    catalog = SourceCatalog(Sources(database), SecretBox.load_or_create(state_dir / KEY_FILE), clock=lambda: NOW)
    catalog.add_vcenter(
        name="vc1",
        address="vc1.example",
        username="failback",
        password=Secret("vc-pass-1"),
        thumbprint_sha256="ab" * 32,
    )
    jobs = JobStore(database)
    job = jobs.submit(
        type="vcenter.refresh", params={"vcenter": "vc1"}, steps=[StepSpec("connect", "C"), StepSpec("snapshot", "S")],
        created_by="operator/admin", now=NOW, subject="vcenter:vc1",
    )  # fmt: skip
    lease = jobs.claim(job.id, owner="r-old/1", replica="r-old", ttl=dt.timedelta(seconds=30), now=NOW)
    assert lease is not None
    jobs.start_step(lease, 0, cancellable=True, now=NOW)
    jobs.complete_step(lease, 0, output={"user": "failback"}, now=NOW)
    InventoryStore(database).save(
        source_kind="vcenter",
        source_name="vc1",
        items=[InventoryItem("vm", "5001-aaaa", "web01", "host-1", {"power_state": "poweredOn"})],
        job_id=job.id,
        taken_at=NOW,
    )
    return job.id


def dump(database: Database) -> dict[str, list[tuple]]:
    with database.engine.connect() as connection:
        return {
            model.name: [tuple(row) for row in connection.execute(select(model).order_by(*model.primary_key.columns))]
            for model in Base.metadata.sorted_tables
        }


def test_a_restore_brings_back_every_row_the_ca_and_the_credential_key(make_database: MakeDatabase, tmp_path: Path):
    source, target = make_database(), make_database(migrate=False)
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    job_id = populate(source, old_dir)
    archive = decrypt(encrypt(export_state(source, old_dir, controller_name="controller"), PASSPHRASE), PASSPHRASE)

    summary = restore_state(archive, database=target, state_dir=new_dir, controller_name="controller")

    assert summary.rows["jobs"] == 1
    assert summary.files == ("ca/ca.key", "ca/ca.pem", KEY_FILE)
    before, after = dump(source), dump(target)
    jobs_before = before.pop("jobs")
    jobs_after = after.pop("jobs")
    assert after == before
    # Leases are dropped: the replica that held them is not coming back.
    assert [row[:13] for row in jobs_after] == [row[:13] for row in jobs_before]
    job = JobStore(target).get(job_id)
    assert (job.lease_owner, job.steps[0].output) == (None, {"user": "failback"})
    assert (new_dir / "ca" / "ca.key").read_bytes() == (old_dir / "ca" / "ca.key").read_bytes()
    assert (new_dir / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (new_dir / KEY_FILE).stat().st_mode & 0o777 == 0o600
    restored = SourceCatalog(Sources(target), SecretBox.load(new_dir / KEY_FILE))
    assert restored.vcenter_password("vc1") == Secret("vc-pass-1")


def test_new_jobs_after_a_restore_get_fresh_ids(make_database: MakeDatabase, tmp_path: Path):
    source, target = make_database(), make_database(migrate=False)
    job_id = populate(source, tmp_path / "old")
    archive = export_state(source, tmp_path / "old", controller_name="controller")
    restore_state(archive, database=target, state_dir=tmp_path / "new", controller_name="controller")
    fresh = JobStore(target).submit(
        type="t", params={}, steps=[StepSpec("s", "S")], created_by="operator/admin", now=NOW
    )
    assert fresh.id > job_id


def test_a_restore_into_a_database_that_has_tables_is_refused(make_database: MakeDatabase, tmp_path: Path):
    source, target = make_database(), make_database()
    populate(source, tmp_path / "old")
    archive = export_state(source, tmp_path / "old", controller_name="controller")
    with pytest.raises(RestoreRefused, match="already has tables"):
        restore_state(archive, database=target, state_dir=tmp_path / "new", controller_name="controller")
    assert not (tmp_path / "new" / "ca").exists()


def test_a_restore_over_another_controllers_state_directory_is_refused(make_database: MakeDatabase, tmp_path: Path):
    source, target = make_database(), make_database(migrate=False)
    populate(source, tmp_path / "old")
    CertificateAuthority.load_or_create(tmp_path / "other" / "ca")
    archive = export_state(source, tmp_path / "old", controller_name="controller")
    with pytest.raises(RestoreRefused, match="already holds a controller's state"):
        restore_state(archive, database=target, state_dir=tmp_path / "other", controller_name="controller")
    assert target.revision() is None


def test_a_restore_under_another_controller_name_is_refused_with_the_name_to_set(
    make_database: MakeDatabase, tmp_path: Path
):
    source, target = make_database(), make_database(migrate=False)
    populate(source, tmp_path / "old")
    archive = export_state(source, tmp_path / "old", controller_name="controller")
    with pytest.raises(RestoreRefused) as refused:
        restore_state(archive, database=target, state_dir=tmp_path / "new", controller_name="dr-controller")
    assert refused.value.remedy.startswith('set name = "controller" under [controller]')


def test_a_wrong_passphrase_opens_nothing():
    sealed = encrypt(b"archive", PASSPHRASE)
    with pytest.raises(WrongPassphrase):
        decrypt(sealed, "correct horse battery stapler")
    with pytest.raises(NotABackup):
        decrypt(b"PK\x03\x04 a zip file", PASSPHRASE)
    assert b"archive" not in sealed


def test_a_short_passphrase_is_refused():
    with pytest.raises(WrongPassphrase, match="shorter than 8"):
        encrypt(b"archive", "short")
