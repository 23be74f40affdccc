"""Bad configuration: an error naming the file and key, a non-zero exit, and nothing written."""

from pathlib import Path

import pytest

from tests.harness import run_cli

BAD_AGENT_CONFIGS = [
    ('[server]\nlisten = "nowhere"\n', "[server] listen: expected HOST:PORT, got 'nowhere'"),
    ('[server]\nlisten = "127.0.0.1:99999"\n', "[server] listen: port 99999 is out of range"),
    ('[server]\ndrain_seconds = "soon"\n', "[server] drain_seconds: expected a duration"),
    ("[server]\nmax_workers = 1\n", "[server] max_workers: expected 4..1024, got 1"),
    ('[server]\nlisen = "0.0.0.0:9443"\n', "[server] lisen: unknown key"),
    ('[agent]\nstate_dir = "relative/dir"\n', "[agent] state_dir: expected an absolute path"),
    ("[metrics]\nlisten = 9464\n", "[metrics] listen: expected HOST:PORT, got 9464"),
    ("[certificates]\ncheck_interval = -5\n", "[certificates] check_interval: expected a positive duration"),
    ('[discovery]\ndev_root = "dev"\nsysfs_root = "/x"\n', "[discovery] dev_root: expected an absolute path"),
    ('[discovery]\ndev_root = "/dev-of-x"\n', "[discovery] dev_root: needs sysfs_root"),
    ("[agent\n", "not valid TOML"),
    ("bogus = 1\n", "bogus: unknown key"),
    ('server = "x"\n', "server: expected a table"),
]


@pytest.mark.parametrize(("text", "message"), BAD_AGENT_CONFIGS, ids=[m for _t, m in BAD_AGENT_CONFIGS])
def test_agent_refuses_bad_config_naming_the_key(tmp_path: Path, text: str, message: str):
    state_dir = tmp_path / "state"
    config = tmp_path / "agent.toml"
    # Top-level keys must come before the first table header, so the state directory table goes last.
    config.write_text(text if text.startswith("[agent]") else f'{text}\n[agent]\nstate_dir = "{state_dir}"\n')
    before = sorted(tmp_path.rglob("*"))
    result = run_cli("agent", "serve", "--config", str(config))
    assert result.returncode == 1
    assert f"{config}: " in result.stderr
    assert message in result.stderr
    assert sorted(tmp_path.rglob("*")) == before


BAD_CONTROLLER_CONFIGS = [
    ('[controller]\nname = "Bad_Name"\n', "[controller] name: invalid name 'Bad_Name'"),
    ('[server]\nregistration_listen = "x"\n', "[server] registration_listen: expected HOST:PORT"),
    ('[server]\nadvertise = "one"\n', "[server] advertise: expected a list of non-empty strings"),
    ('[certificates]\nagent_lifetime = "10m"\n', "[certificates] agent_lifetime: expected between 1h and 90d"),
    ('[certificates]\nlifetime = "7d"\n', "[certificates] lifetime: unknown key"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONTROLLER_CONFIGS, ids=[m for _t, m in BAD_CONTROLLER_CONFIGS])
def test_controller_refuses_bad_config_naming_the_key(tmp_path: Path, text: str, message: str):
    config = tmp_path / "controller.toml"
    state = f'state_dir = "{tmp_path / "state"}"\n'
    if text.startswith("[controller]\n"):
        config.write_text(text + state)
    else:
        config.write_text(f"{text}\n[controller]\n{state}")
    before = sorted(tmp_path.rglob("*"))
    result = run_cli("controller", "serve", "--config", str(config))
    assert result.returncode == 1
    assert message in result.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_a_missing_config_file_is_named(tmp_path: Path):
    result = run_cli("agent", "serve", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 1
    assert f"{tmp_path / 'nope.toml'}: no such configuration file" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path):
    assert run_cli("agent", "serve", "--no-such-flag").returncode == 2
    assert run_cli("controller.cli", "token", "create").returncode == 2
