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


def _azure(tmp_path: Path, lines: str) -> str:
    secret = tmp_path / "azure-secret"
    secret.write_text("s3cr3t-in-the-file\n")
    secret.chmod(0o600)
    return "[azure]\n" + lines.format(secret=secret, missing=tmp_path / "no-such-secret", dir=tmp_path)


SP = 'identity = "service-principal"\ntenant = "t"\nclient_id = "c"\n'
BAD_AZURE_CONFIGS = [
    (
        SP + 'client_secret_file = "{missing}"\n',
        "[azure] client_secret_file: {missing} does not exist; write the client secret into it (mode 0600)",
    ),
    (
        SP + 'client_secret_file = "{secret}"\n#0644',
        "[azure] client_secret_file: {secret} has mode 644; others may read it: run chmod 600 {secret}",
    ),
    (SP + 'client_secret_file = "{dir}"\n', "[azure] client_secret_file: {dir} is not a regular file"),
    (SP, '[azure] client_secret_file: is required with identity = "service-principal"'),
    (
        'identity = "service-principal"\nclient_id = "c"\nclient_secret_file = "{secret}"\n',
        "[azure] tenant: is required",
    ),
    ('client_secret_file = "{secret}"\n', '[azure] client_secret_file: is only for identity = "service-principal"'),
    ('client_secret = "hunter2"\n', "[azure] client_secret: unknown key"),
    ('identity = "password"\n', "[azure] identity: expected one of managed-identity, service-principal"),
    ('endpoint = "http://127.0.0.1:1"\n', "[azure] endpoint: expected an https:// URL"),
    ('ca_bundle = "{missing}"\n', "[azure] ca_bundle: {missing} is not a file"),
    ('lab_min_interval = "soon"\n', "[azure] lab_min_interval: expected a duration"),
]


@pytest.mark.parametrize(
    ("lines", "message"),
    BAD_AZURE_CONFIGS,
    ids=[m.split(":")[0] + f"-{i}" for i, (_l, m) in enumerate(BAD_AZURE_CONFIGS)],
)
def test_agent_refuses_a_bad_azure_section_saying_what_to_fix(tmp_path: Path, lines: str, message: str):
    text = _azure(tmp_path, lines)
    if lines.endswith("#0644"):
        (tmp_path / "azure-secret").chmod(0o644)
    config = tmp_path / "agent.toml"
    config.write_text(f'{text}\n[agent]\nstate_dir = "{tmp_path / "state"}"\n')
    before = sorted(tmp_path.rglob("*"))
    result = run_cli("agent", "serve", "--config", str(config))
    assert result.returncode == 1
    expected = message.format(secret=tmp_path / "azure-secret", missing=tmp_path / "no-such-secret", dir=tmp_path)
    assert f"{config}: {expected}" in result.stderr
    assert "hunter2" not in result.stderr
    assert "s3cr3t" not in result.stderr
    assert sorted(tmp_path.rglob("*")) == before
