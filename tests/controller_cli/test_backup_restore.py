"""backup create -> wipe -> restore on another port: the same inventory and jobs, and an agent registered before
the backup keeps working with the restored controller (it verifies the controller by name and CA, not address)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from agent.trust import CertificateKeeper, Registration
from failback.identity import Role
from failback.retry import Policy
from lab.azure import LocalAzure
from tests.controller.conftest import AZURE_SECRET
from tests.controller_cli._procs import FAST, ctl_json, jobs_of, wait_finished
from tests.controller_cli.test_sources_cli import add_vault
from tests.harness import ControllerProcess, Service, run_cli, start_agent, start_controller

PASSPHRASE = "a long and private passphrase"


def heartbeat_ok(controller: ControllerProcess, name: str) -> dict | None:
    agents = ctl_json(controller, "servers")["agents"]
    agent = next((agent for agent in agents if agent["name"] == name), None)
    return agent if agent and agent["health"] == "ok" else None


def new_controller_config(directory: Path) -> Path:
    directory.mkdir(parents=True)
    config = directory / "controller.toml"
    config.write_text(
        f'[controller]\nstate_dir = "{directory / "state"}"\n\n'
        '[server]\nlisten = "127.0.0.1:0"\nregistration_listen = "127.0.0.1:0"\ndrain_seconds = 5\n\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n' + FAST
    )
    return config


def test_a_restored_controller_has_the_same_state_and_its_agents_follow_it(tmp_path: Path, local_azure: LocalAzure):
    old = start_controller(tmp_path / "old", extra=FAST)
    (tmp_path / "agents").mkdir()
    agent = start_agent(old, tmp_path / "agents", "mt-keep", Role.MASTER_TARGET)
    try:
        passphrase = tmp_path / "passphrase"
        passphrase.write_text(PASSPHRASE)
        secret = tmp_path / "secret"
        secret.write_text(AZURE_SECRET)
        backup = tmp_path / "controller.fbbackup"
        try:
            Policy(deadline=30, initial=0.1, maximum=0.5).wait_for(
                lambda: heartbeat_ok(old, "mt-keep"), what="heartbeat"
            )
            assert add_vault(old, local_azure, "dr-vault", secret, "--import", "--wait").returncode == 0
            with jobs_of(old) as jobs:
                effects = tmp_path / "effects"
                effects.mkdir()
                wait_finished(jobs, jobs.submit("test.effects", {"dir": str(effects)}, created_by="operator/test").id)
            items_before = ctl_json(old, "inventory", "items")
            jobs_before = ctl_json(old, "jobs")
            created = old.ctl("backup", "create", str(backup), "--passphrase-file", str(passphrase), "--output", "json")
            assert created.returncode == 0, created.stderr
        finally:
            assert old.stop() == 0
        assert backup.stat().st_mode & 0o777 == 0o600
        assert b"PRIVATE KEY" not in backup.read_bytes()
        shutil.rmtree(old.state_dir)

        config = new_controller_config(tmp_path / "new")
        restored = run_cli(
            "controller.cli", "backup", "restore", str(backup), "--controller-config", str(config),
            "--passphrase-file", str(passphrase), "--output", "json",
        )  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        service = Service.start(
            "controller", "controller", ["serve", "--config", str(config)], tmp_path / "new" / "run"
        )
        service.wait_ready()
        new = ControllerProcess(tmp_path / "new", config, old.ctl_config, service)
        assert new.api != old.api
        # The operator's credential came from the same CA: only the address in failbackctl.toml changes.
        text = old.ctl_config.read_text()
        old.ctl_config.write_text(re.sub(r'controller = ".*"', f'controller = "{new.api}"', text))
        try:
            assert ctl_json(new, "inventory", "items") == items_before
            assert ctl_json(new, "jobs") == jobs_before

            # The agent learns the new address (DNS would do the same); it still verifies the controller by name.
            agent.stop()
            agent.config.write_text(agent.config.read_text() + f'\n[controller]\naddress = "{new.api}"\n')
            moved = Service.start(
                "mt-keep", "agent", ["serve", "--config", str(agent.config)], tmp_path / "agents" / "again"
            )
            moved.wait_ready()
            try:
                before = dt.datetime.now(dt.UTC).isoformat()
                beat = Policy(deadline=30, initial=0.1, maximum=0.5).wait_for(
                    lambda: a if (a := heartbeat_ok(new, "mt-keep")) and a["last_heartbeat"] > before[:19] else None,
                    what="a heartbeat at the restored controller",
                )
                assert beat["version"]
                registration = Registration.load(agent.state_dir)
                registration = type(registration)(**{**vars(registration), "controller_address": str(new.api)})
                keeper = CertificateKeeper(agent.state_dir, registration)
                serial = keeper.tls.serial
                keeper.renew()
                assert keeper.tls.serial != serial
            finally:
                moved.stop()
        finally:
            new.stop()
    finally:
        agent.service.kill()


def test_a_wrong_passphrase_restores_nothing(tmp_path: Path):
    old = start_controller(tmp_path / "old", extra=FAST)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE)
    backup = tmp_path / "controller.fbbackup"
    try:
        assert old.ctl("backup", "create", str(backup), "--passphrase-file", str(passphrase)).returncode == 0
        again = old.ctl("backup", "create", str(backup), "--passphrase-file", str(passphrase))
        assert again.returncode == 2
        assert "already exists" in again.stderr
    finally:
        old.stop()
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all")
    config = new_controller_config(tmp_path / "new")
    result = run_cli(
        "controller.cli", "backup", "restore", str(backup), "--controller-config", str(config),
        "--passphrase-file", str(wrong),
    )  # fmt: skip
    assert result.returncode == 1
    assert "does not open with this passphrase" in result.stderr
    assert not (tmp_path / "new" / "state" / "ca").exists()
    assert not (tmp_path / "new" / "state" / "controller.db").exists()


def test_restoring_over_a_running_controller_is_refused(tmp_path: Path):
    running = start_controller(tmp_path / "running", extra=FAST)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE)
    backup = tmp_path / "controller.fbbackup"
    try:
        assert running.ctl("backup", "create", str(backup), "--passphrase-file", str(passphrase)).returncode == 0
        result = run_cli(
            "controller.cli", "backup", "restore", str(backup), "--controller-config", str(running.config),
            "--passphrase-file", str(passphrase),
        )  # fmt: skip
        assert result.returncode == 1
        assert "a controller is running with the state directory" in result.stderr
        assert running.ctl("health").returncode == 0
    finally:
        running.stop()
