"""Registering a vCenter (the vSphere simulator) and a vault (the local Azure endpoint) with failbackctl, refreshing
them as jobs, and listing hosts, datastores, VMs and failed-over items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.azure import LocalAzure
from lab.vcsim import Simulator
from tests.controller.conftest import AZURE_CLIENT, AZURE_SECRET, AZURE_TENANT
from tests.controller_cli._procs import ctl_json
from tests.harness import ControllerProcess, run_cli


def ctl_with_stdin(controller: ControllerProcess, stdin: str, *args: str):
    return run_cli("controller.cli", "--config", str(controller.ctl_config), *args, stdin=stdin)


def add_vcenter(controller: ControllerProcess, sim: Simulator, name: str, *extra: str, password: str | None = None):
    return ctl_with_stdin(
        controller,
        (password or sim.password) + "\n",
        "vcenter", "add", name, "--address", f"{sim.host}:{sim.port}", "--user", sim.username,
        "--ca-file", str(sim.ca_file), "--password-stdin", *extra,
    )  # fmt: skip


def add_vault(controller: ControllerProcess, endpoint: LocalAzure, name: str, secret_file: Path, *extra: str):
    estate = endpoint.estate
    return controller.ctl(
        "azure", "add", name, "--subscription", estate.subscription_id, "--resource-group", estate.resource_group,
        "--vault", estate.vault, "--tenant", AZURE_TENANT, "--client-id", AZURE_CLIENT,
        "--secret-file", str(secret_file), "--endpoint", endpoint.base_url, "--authority", endpoint.base_url,
        "--ca-file", endpoint.ca_file, *extra,
    )  # fmt: skip


@pytest.mark.vcsim
def test_a_vcenter_added_and_refreshed_lists_its_hosts_datastores_and_vms(
    controller: ControllerProcess, vcsim: Simulator
):
    added = add_vcenter(controller, vcsim, "lab-vc", "--refresh", "--wait", "--output", "json")
    assert added.returncode == 0, added.stderr
    final = json.loads(added.stdout.splitlines()[-1])
    assert (final["type"], final["state"]) == ("vcenter.refresh", "succeeded")
    hosts = ctl_json(controller, "inventory", "hosts", "--source", "lab-vc")["objects"]
    assert sorted(host["name"] for host in hosts)[-1] == "DC0_H0"
    assert len(hosts) == 4
    datastores = ctl_json(controller, "inventory", "datastores", "--source", "lab-vc")["objects"]
    assert [(ds["name"], ds["kind"]) for ds in datastores] == [("LocalDS_0", "datastore")]
    vms = ctl_json(controller, "inventory", "vms", "--source", "lab-vc")["objects"]
    assert vms
    assert all(len(vm["key"]) == 36 and vm["details"]["disks"] for vm in vms)
    listed = ctl_json(controller, "vcenter", "list")["vcenters"]
    entry = next(vc for vc in listed if vc["name"] == "lab-vc")
    assert (entry["verify"], entry["snapshot"]["counts"]["host"]) == ("ca", 4)
    assert entry["snapshot"]["job_id"] == final["id"]
    refreshed = controller.ctl("vcenter", "refresh", "lab-vc", "--wait")
    assert refreshed.returncode == 0, refreshed.stderr
    assert f"job {final['id'] + 1} succeeded" in refreshed.stdout


@pytest.mark.vcsim
def test_a_wrong_vcenter_password_fails_the_refresh_and_exits_one(controller: ControllerProcess, vcsim: Simulator):
    added = add_vcenter(controller, vcsim, "bad-vc", "--refresh", "--wait", password="wrong-password-77")
    assert added.returncode == 1
    assert "error:  Log in to vCenter:" in added.stdout
    assert "wrong-password-77" not in added.stdout + added.stderr


def test_a_vault_added_and_imported_lists_the_failed_over_items(
    controller: ControllerProcess, local_azure: LocalAzure, work: Path
):
    secret_file = work / "secret"
    secret_file.write_text(AZURE_SECRET + "\n")
    added = add_vault(controller, local_azure, "dr-vault", secret_file, "--import", "--wait")
    assert added.returncode == 0, added.stdout + added.stderr
    items = ctl_json(controller, "inventory", "items", "--source", "dr-vault")["objects"]
    assert sorted(item["details"]["ref"]["name"] for item in items) == sorted(i.name for i in local_azure.estate.items)
    assert any(item["details"]["active_location"] == "Recovery" for item in items)
    plans = ctl_json(controller, "inventory", "plans", "--source", "dr-vault")["objects"]
    assert plans
    vaults = ctl_json(controller, "azure", "list")["vaults"]
    entry = next(vault for vault in vaults if vault["name"] == "dr-vault")
    assert entry["vault"] == local_azure.estate.vault
    assert entry["snapshot"]["counts"]["protected-item"] == len(items)
    again = controller.ctl("azure", "import", "dr-vault", "--wait")
    assert again.returncode == 0, again.stderr


def test_a_second_import_of_a_vault_is_refused_while_one_runs(
    controller: ControllerProcess, local_azure: LocalAzure, work: Path
):
    secret_file = work / "secret"
    secret_file.write_text(AZURE_SECRET)
    local_azure.lro.in_progress_polls = 0
    assert add_vault(controller, local_azure, "busy-vault", secret_file).returncode == 0
    first = ctl_json(controller, "azure", "import", "busy-vault")
    second = controller.ctl("azure", "import", "busy-vault")
    if second.returncode == 0:
        # The first import may already have finished on a fast machine; then a second one is fine.
        assert ctl_json(controller, "job", "show", str(first["id"]))["finished_at"] is not None
    else:
        assert second.returncode == 1
        assert f"azure:busy-vault is busy with job {first['id']}" in second.stderr


def test_a_secret_is_never_a_command_line_argument(controller: ControllerProcess):
    result = controller.ctl("vcenter", "add", "x", "--address", "h", "--user", "u", "--thumbprint", "ab" * 32,
                            "--password", "hunter2")  # fmt: skip
    assert result.returncode == 2
    assert "error: ambiguous option: --password could match --password-file, --password-stdin" in result.stderr
    assert all(vc["name"] != "x" for vc in ctl_json(controller, "vcenter", "list")["vcenters"])


def test_without_a_terminal_or_a_secret_source_the_command_is_a_usage_error(controller: ControllerProcess):
    result = ctl_with_stdin(controller, "", "vcenter", "add", "x", "--address", "h", "--user", "u",
                            "--thumbprint", "ab" * 32)  # fmt: skip
    assert result.returncode == 2
    assert "no vCenter password given" in result.stderr
    assert "--password-file FILE or --password-stdin" in result.stderr


def test_a_bad_vcenter_registration_names_the_field_and_stores_nothing(controller: ControllerProcess):
    result = ctl_with_stdin(controller, "pw\n", "vcenter", "add", "Bad_Name", "--address", "h", "--user", "u",
                            "--thumbprint", "ab" * 32, "--password-stdin")  # fmt: skip
    assert result.returncode == 1
    assert "vCenter name 'Bad_Name' is not valid" in result.stderr
    assert all(vc["name"] != "Bad_Name" for vc in ctl_json(controller, "vcenter", "list")["vcenters"])
