"""Two controller replicas on one PostgreSQL database: a job runs on one replica at a time, and when that replica
is killed mid-step the other takes the job over once its lease expires, without repeating a completed effect."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from controller.jobs import JobRegistry, Jobs
from controller.store import Database, JobStore
from tests.conftest import skip_or_fail
from tests.controller_cli import jobtypes
from tests.controller_cli._procs import kill, start_replica, wait_finished, wait_for_file


@pytest.fixture
def shared_database() -> Iterator[str]:
    base = os.environ.get("FAILBACK_TEST_PG_URL")
    if not base:
        skip_or_fail("set FAILBACK_TEST_PG_URL to a PostgreSQL database (scripts/test starts one)")
    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    name = f"failback_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_job_moves_to_the_other_replica_when_its_replica_dies(tmp_path: Path, shared_database: str):
    first = start_replica(tmp_path / "a", shared_database)
    second = start_replica(tmp_path / "b", shared_database, seed=first)
    replicas = {first.service.process.pid: first, second.service.process.pid: second}
    work = tmp_path / "effects"
    work.mkdir()
    database = Database.open(shared_database, migrate=False)
    try:
        jobs = Jobs(JobStore(database), JobRegistry(jobtypes.job_types()))
        job_id = jobs.submit("test.effects", {"dir": str(work), "gates": True}, created_by="operator/test").id
        (work / "go-before-s0").touch()
        wait_for_file(work / "at-after-s0")
        running = replicas.pop(int((work / "at-after-s0").read_text()))
        survivor = next(iter(replicas.values()))
        assert jobs.get(job_id).lease_owner is not None
        kill(running)
        for gate in ("after-s0", "before-s1", "after-s1", "before-s2", "after-s2"):
            (work / f"go-{gate}").touch()
        job = wait_finished(jobs, job_id)
        assert job.state == "succeeded", job.error
        assert (work / "effects").read_text().splitlines() == ["s0", "s1", "s2"]
        assert (work / "runs").read_text().splitlines() == ["s0", "s0", "s1", "s2"]
        assert job.lease_epoch == 2
        # The steps after the takeover ran on the survivor.
        assert (work / "at-after-s2").read_text() == str(survivor.service.process.pid)
        assert jobs.get(job_id).steps[0].attempts == 2
    finally:
        database.close()
        for replica in (first, second):
            if replica.service.process.poll() is None:
                replica.stop()
