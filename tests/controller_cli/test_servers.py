"""Agents' heartbeats in `failbackctl servers` (and `agents list`): health, version, capacity, staleness."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from controller.api.v1 import agents_pb2, agents_pb2_grpc
from failback import __version__
from failback.identity import Identity, Role
from failback.retry import Policy
from failback.serving import load_tls_identity, secure_channel
from tests.controller_cli._procs import ctl_json
from tests.harness import ControllerProcess, register_agent, start_agent

_SEEN = Policy(deadline=30, initial=0.1, maximum=0.5)


def server(controller: ControllerProcess, name: str) -> dict:
    document = ctl_json(controller, "servers")
    return next(agent for agent in document["agents"] if agent["name"] == name)


def test_a_running_agent_shows_with_a_heartbeat_its_version_and_capacity(controller: ControllerProcess, work: Path):
    master = start_agent(controller, work, "mt-beat", Role.MASTER_TARGET)
    process = start_agent(controller, work, "ps-beat", Role.PROCESS_SERVER)
    try:
        mt = _SEEN.wait_for(lambda: s if (s := server(controller, "mt-beat"))["health"] == "ok" else None, what="mt")
        ps = _SEEN.wait_for(lambda: s if (s := server(controller, "ps-beat"))["health"] == "ok" else None, what="ps")
    finally:
        master.stop()
        process.stop()
    assert (mt["role"], mt["version"], mt["state"], mt["problems"]) == ("master-target", __version__, "active", [])
    assert mt["last_heartbeat"] is not None
    assert mt["started_at"] is not None
    # The master target counts the disks on its vSphere SCSI controllers against the 60-disk limit.
    assert mt["capacity"]["master_target"]["disk_limit"] == 60
    assert isinstance(mt["capacity"]["master_target"]["attached_disks"], int)
    # Measured by its data path: a process server with no pairs has nothing queued, sends nothing and replicates no
    # disk.
    assert ps["capacity"] == {
        "process_server": {"backlog_bytes": 0, "throughput_bytes_per_second": 0, "replicating_disks": 0}
    }
    listed = ctl_json(controller, "agents", "list")
    again = next(agent for agent in listed["agents"] if agent["name"] == "mt-beat")
    assert {**again, "last_heartbeat": None} == {**mt, "last_heartbeat": None}
    assert listed["controller_version"] == __version__


def test_an_agent_that_stops_reporting_turns_stale_with_what_to_check(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-quiet", Role.MASTER_TARGET)
    try:
        _SEEN.wait_for(lambda: True if server(controller, "mt-quiet")["health"] == "ok" else None, what="heartbeat")
    finally:
        agent.stop()
    stale = _SEEN.wait_for(
        lambda: s if (s := server(controller, "mt-quiet"))["health"] == "stale" else None, what="stale"
    )
    assert "is failback-agent running and able to reach the controller?" in stale["problems"][0]


def test_an_agent_never_started_is_unknown_and_a_revoked_one_says_so(controller: ControllerProcess, work: Path):
    register_agent(controller, work, "ps-silent", Role.PROCESS_SERVER)
    assert server(controller, "ps-silent")["health"] == "unknown"
    assert controller.ctl("agents", "revoke", "ps-silent").returncode == 0
    assert server(controller, "ps-silent")["health"] == "revoked"


def test_the_servers_table_shows_health_and_capacity(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-table", Role.MASTER_TARGET)
    try:
        _SEEN.wait_for(lambda: True if server(controller, "mt-table")["health"] == "ok" else None, what="heartbeat")
        table = controller.ctl("servers")
    finally:
        agent.stop()
    assert table.returncode == 0, table.stderr
    line = next(line for line in table.stdout.splitlines() if line.startswith("mt-table"))
    assert " master-target " in line
    assert " ok " in line
    assert "/60" in line


SERVER_KEYS = {
    "name", "role", "state", "version", "hostname", "registered_at", "certificate_not_after", "health", "problems",
    "last_heartbeat", "started_at", "capacity",
}  # fmt: skip


def test_the_servers_json_has_exactly_the_documented_keys(controller: ControllerProcess, work: Path):
    register_agent(controller, work, "mt-keys", Role.MASTER_TARGET)
    document = ctl_json(controller, "servers")
    assert set(document) == {"agents", "controller_version"}
    assert all(set(agent) == SERVER_KEYS for agent in document["agents"])


def test_an_agent_can_only_report_the_capacity_of_its_own_role(controller: ControllerProcess, work: Path):
    state_dir = register_agent(controller, work, "ps-liar", Role.PROCESS_SERVER)
    tls = load_tls_identity(state_dir / "tls", remedy="")
    request = agents_pb2.HeartbeatRequest(version="0.1.0")
    request.master_target.attached_disks = 3
    with (
        secure_channel(str(controller.api), tls, Identity(Role.CONTROLLER, "controller")) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        agents_pb2_grpc.AgentStatusStub(channel).Heartbeat(request, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert server(controller, "ps-liar")["health"] == "unknown"
