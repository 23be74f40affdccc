"""`failbackctl doctor` against a real controller with real agents, the vSphere simulator and the local Azure
endpoint; and the preflight that stops a reprotect before its first change.

The simulators show the vSphere and vault checks elsewhere (tests/doctor); here the agents' checks come from real
agents (their API answers the controller, their heartbeats arrive, their certificates and versions are real), and
the command's shape, exit codes and JSON are what `failbackctl lab drill` relies on.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from failback.identity import Role
from failback.retry import Policy
from lab.azure import LocalAzure
from lab.vcsim import Simulator
from tests.controller.conftest import AZURE_CLIENT, AZURE_SECRET, AZURE_TENANT
from tests.controller_cli._procs import ctl_json, jobs_of, wait_finished
from tests.controller_cli.test_sources_cli import add_vault, add_vcenter
from tests.harness import AgentProcess, ControllerProcess, start_agent

pytestmark = pytest.mark.vcsim
_HEARD = Policy(deadline=30, initial=0.1, maximum=0.5)


def _healthy(controller: ControllerProcess, name: str) -> bool | None:
    agents = ctl_json(controller, "servers")["agents"]
    return True if any(a["name"] == name and a["health"] == "ok" for a in agents) else None


def _address(agent: AgentProcess) -> str:
    host, port = agent.address
    return f"{host}:{port}"


@pytest.fixture(scope="module")
def site(
    controller: ControllerProcess, vcsim: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, AgentProcess]]:
    """vCenter and vault registered and read, a master target and a process server running, plan ``doctor-web``
    applied. One for the module: the last test stops the process server."""
    work = tmp_path_factory.mktemp("doctor-site")
    with LocalAzure(
        tls_dir=work / "azure-tls", token="local-token", principals={(AZURE_TENANT, AZURE_CLIENT): AZURE_SECRET}
    ) as local_azure:
        yield from _site(controller, vcsim, local_azure, work)


def _site(
    controller: ControllerProcess, vcsim: Simulator, local_azure: LocalAzure, work: Path
) -> Iterator[dict[str, AgentProcess]]:
    added = add_vcenter(controller, vcsim, "doctor-vc", "--refresh", "--wait")
    assert added.returncode == 0, added.stdout + added.stderr
    secret = work / "secret"
    secret.write_text(AZURE_SECRET + "\n")
    imported = add_vault(controller, local_azure, "doctor-dr", secret, "--import", "--wait")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    mt = start_agent(controller, work, "mt-linux-01", Role.MASTER_TARGET)
    ps = start_agent(controller, work, "ps-azure-01", Role.PROCESS_SERVER)
    for agent in (mt, ps):
        _HEARD.wait_for(lambda name=agent.name: _healthy(controller, name), what=f"{agent.name}'s heartbeat")
    mt_vm = ctl_json(controller, "inventory", "vms", "--source", "doctor-vc")["objects"][0]["key"]
    plan = work / "web.toml"
    plan.write_text(
        textwrap.dedent(
            f"""
            name = "doctor-web"
            vault = "doctor-dr"
            vcenter = "doctor-vc"
            recovery_plan = "rp-3tier"
            datastore = "LocalDS_0"
            retention_volume = "/mnt/retention"
            master_targets = ["mt-linux-01"]
            process_server = "ps-azure-01"
            policy = "failback-24h"

            [[agents]]
            name = "mt-linux-01"
            role = "master-target"
            address = "{_address(mt)}"
            vm = "{mt_vm}"

            [[agents]]
            name = "ps-azure-01"
            role = "process-server"
            address = "{_address(ps)}"
            """
        )
    )
    applied = controller.ctl("plan", "apply", str(plan))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    try:
        yield {"mt": mt, "ps": ps}
    finally:
        mt.stop()
        ps.stop()


def _doctor(controller: ControllerProcess, *args: str):
    return controller.ctl("doctor", *args, "--output", "json")


def _statuses(document: dict, check: str) -> dict[str, str]:
    return {c["subject"]: c["status"] for c in document["checks"] if c["id"] == check}


def test_doctor_on_a_plan_with_a_failing_check_exits_one_with_every_finding_in_json(controller, site):
    result = _doctor(controller, "--plan", "doctor-web")
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert (document["scope"], document["live"], document["status"]) == ("plan doctor-web", True, "fail")
    # db01 is already protected back to on-premises: reprotect cannot start from it.
    assert _statuses(document, "asr-state")["vm db01"] == "fail"
    db01 = next(c for c in document["checks"] if c["id"] == "asr-state" and c["subject"] == "vm db01")
    assert db01["remedy"].startswith("commit the failover to Azure first")
    assert db01["title"] == "ASR shows the item where its next workflow starts"
    assert document["counts"]["fail"] == sum(1 for c in document["checks"] if c["status"] == "fail")


def test_real_agents_pass_reachability_version_order_and_certificate_checks(controller, site):
    document = json.loads(_doctor(controller, "--plan", "doctor-web").stdout)
    reach = _statuses(document, "reachability")
    assert (reach["master target mt-linux-01"], reach["process server ps-azure-01"]) == ("ok", "ok")
    assert _statuses(document, "version-order") == {"agents": "ok"}
    certificates = _statuses(document, "certificate-expiry")
    assert (certificates["master target mt-linux-01"], certificates["process server ps-azure-01"]) == ("ok", "ok")
    assert {s["name"]: s["how"] for s in document["sources"]}["master-target mt-linux-01"] == "live"


def test_the_table_groups_findings_by_subject_and_ends_with_the_verdict(controller, site):
    result = controller.ctl("doctor", "--plan", "doctor-web")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["SUBJECT", "STATUS", "CHECK", "EVIDENCE", "REMEDY"]
    assert any(line.startswith("vm db01") and " FAIL " in line and "asr-state" in line for line in lines)
    assert "source: vCenter doctor-vc: live" in result.stdout
    assert lines[-1].startswith("doctor (plan doctor-web, live): ")
    assert lines[-1].endswith("- something fails")


def test_doctor_on_a_vm_checks_that_item(controller, site):
    result = _doctor(controller, "--vm", "web01")
    document = json.loads(result.stdout)
    assert document["scope"] == "vms web01"
    assert _statuses(document, "asr-state") == {"vm web01": "ok"}


def test_doctor_on_an_unknown_plan_is_a_usage_error(controller, site):
    result = _doctor(controller, "--plan", "no-such-plan")
    assert result.returncode == 2
    assert "no-such-plan" in result.stdout + result.stderr


def test_reprotect_stops_at_the_preflight_with_the_failing_checks_remedies_and_holds_nothing(controller, site):
    started = controller.ctl("reprotect", "--plan", "doctor-web", "--wait", "--output", "json")
    assert started.returncode == 1, started.stdout + started.stderr
    final = json.loads(started.stdout.splitlines()[-1])
    assert final["state"] == "failed"
    with jobs_of(controller) as jobs:
        record = wait_finished(jobs, final["id"])
    assert [s.name for s in record.steps if s.state != "pending"] == ["preflight"]
    assert "asr-state (vm db01)" in str(record.error)
    assert "--skip-doctor" in str(record.remedy)
    items = ctl_json(controller, "items", "--vault", "doctor-dr")["items"]
    assert all(item["job_id"] is None for item in items)


def test_an_agent_that_stopped_fails_reachability_with_what_to_open(controller, site):
    site["ps"].stop()
    document = json.loads(_doctor(controller, "--plan", "doctor-web").stdout)
    finding = next(
        c
        for c in document["checks"]
        if c["id"] == "reachability" and c["subject"] == "process server ps-azure-01" and c["status"] == "fail"
    )
    assert "9443" in finding["remedy"]
