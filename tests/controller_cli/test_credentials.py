"""T24: vCenter and Azure credentials never appear in the database, the logs or the process arguments.

A real controller logging at DEBUG registers a vCenter (the simulator) and a vault (the local endpoint) and uses both
credentials in a refresh and an import; then the database files, a dump of every table, the controller's log files,
its /proc cmdline and environment are searched for the secrets, in the clear and in the encodings a dump would use.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest

from lab.azure import LocalAzure
from lab.vcsim import Simulator
from tests.controller.conftest import AZURE_SECRET
from tests.controller_cli._procs import FAST, restart
from tests.controller_cli.test_sources_cli import add_vault, add_vcenter
from tests.harness import ControllerProcess, start_controller


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw), secret.encode("utf-16-le")]


@pytest.fixture
def debug_controller(tmp_path: Path):
    first = start_controller(tmp_path / "controller", extra=FAST)
    assert first.stop() == 0
    controller = restart(first, "debug", env={"FAILBACK_LOG_LEVEL": "DEBUG"})
    yield controller
    controller.stop()


@pytest.mark.vcsim
def test_credentials_are_never_in_the_database_logs_or_process_arguments(
    debug_controller: ControllerProcess, vcsim: Simulator, local_azure: LocalAzure, tmp_path: Path
):
    controller = debug_controller
    secret_file = tmp_path / "secret"
    secret_file.write_text(AZURE_SECRET)
    added = add_vcenter(controller, vcsim, "vc-t24", "--refresh", "--wait")
    assert added.returncode == 0, added.stdout + added.stderr
    imported = add_vault(controller, local_azure, "vault-t24", secret_file, "--import", "--wait")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    secrets = {"vCenter password": vcsim.password, "client secret": AZURE_SECRET}

    pid = controller.service.process.pid
    places: dict[str, bytes] = {
        "cmdline": Path(f"/proc/{pid}/cmdline").read_bytes(),
        "environ": Path(f"/proc/{pid}/environ").read_bytes(),
    }
    logs = sorted(controller.directory.rglob("*.log"))
    assert logs
    for log in logs:
        places[str(log)] = log.read_bytes()
    assert b"DEBUG" in b"".join(places[str(log)] for log in logs), "the controller did not log at DEBUG"
    database = controller.state_dir / "controller.db"
    for path in database.parent.glob("controller.db*"):
        places[str(path)] = path.read_bytes()
    with sqlite3.connect(database) as connection:
        places["sql dump"] = "\n".join(connection.iterdump()).encode()
        places["rows"] = json.dumps(
            [
                [value.hex() if isinstance(value, bytes) else value for value in row]
                for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                for row in connection.execute(f'SELECT * FROM "{table}"')
            ],
            default=str,
        ).encode()
    connection.close()

    leaks = [
        f"{what} in {place}"
        for what, secret in secrets.items()
        for place, content in places.items()
        if any(form in content for form in forms(secret))
    ]
    assert leaks == []
    # The check can find what it looks for: the sealed blobs are there, under a key only the controller can read.
    assert b"vcenters" in places["sql dump"]
    key = controller.state_dir / "secrets.key"
    assert key.stat().st_mode & 0o777 == 0o600
