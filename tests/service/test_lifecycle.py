"""Health, draining, systemd notification and the agent's own health probe."""

import socket
import threading
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from failback.identity import Role
from failback.serving import secure_channel
from tests.harness import ControllerProcess, Service, run_cli, start_agent

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_ready_is_sent_only_once_the_port_accepts_connections(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-ready", Role.MASTER_TARGET, wait=False)
    try:
        message = agent.service.notify.wait_for("READY", timeout=30)
        agent.service.status = message["STATUS"]
        # The very first thing after READY=1: a connection must succeed, with no retry.
        with socket.create_connection((agent.address.host, agent.address.port), timeout=1):
            pass
        assert message["READY"] == "1"
        assert "master-target/mt-ready serving on" in message["STATUS"]
    finally:
        assert agent.stop() == 0


def test_stopping_is_announced_and_the_agent_exits_zero(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-stopping", Role.MASTER_TARGET)
    notify = agent.service.notify
    agent.service.process.send_signal(15)
    assert notify.wait_for("STOPPING", timeout=10)["STOPPING"] == "1"
    assert agent.stop() == 0


def test_the_watchdog_is_pinged_while_healthy(controller: ControllerProcess, work: Path):
    # systemd's WatchdogSec=0.4 s: the agent must ping every 0.2 s.
    agent = start_agent(controller, work, "mt-watchdog", Role.MASTER_TARGET, env={"WATCHDOG_USEC": "400000"})
    try:
        pings = [agent.service.notify.wait_for("WATCHDOG", timeout=5) for _ in range(3)]
        assert all(ping == {"WATCHDOG": "1"} for ping in pings)
    finally:
        assert agent.stop() == 0


def test_without_a_watchdog_no_pings_are_sent(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-nowatchdog", Role.MASTER_TARGET)
    try:
        try:
            agent.service.notify.wait_for("WATCHDOG", timeout=1)
        except TimeoutError:
            pass
        else:
            raise AssertionError("WATCHDOG=1 sent although systemd asked for no watchdog")
    finally:
        assert agent.stop() == 0


def test_health_is_serving_after_start_and_not_serving_while_draining(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-drain", Role.MASTER_TARGET)
    statuses: list[int] = []
    first = threading.Event()
    with secure_channel(str(agent.address), controller.own_tls(), agent.identity) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)

        def follow() -> None:
            try:
                for response in watch:
                    statuses.append(response.status)
                    first.set()
            except grpc.RpcError:
                pass

        follower = threading.Thread(target=follow)
        follower.start()
        assert first.wait(10)
        assert agent.stop() == 0
        follower.join(10)
    assert statuses[0] == SERVING
    assert NOT_SERVING in statuses[1:], statuses


def test_the_agent_health_command_probes_with_its_own_certificate(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-probe", Role.MASTER_TARGET)
    try:
        result = run_cli("agent", "health", "--config", str(agent.config), "--address", str(agent.address))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"master-target/mt-probe at {agent.address}: SERVING"
    finally:
        agent.stop()
    result = run_cli(
        "agent", "health", "--config", str(agent.config), "--address", str(agent.address), "--output", "json"
    )
    assert result.returncode == 1
    assert '"status": "UNREACHABLE"' in result.stdout


def test_the_controller_reports_serving_through_failbackctl(controller: ControllerProcess):
    result = controller.ctl("health", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert '"": "SERVING"' in result.stdout


def test_a_service_started_without_registration_says_how_to_register(tmp_path: Path):
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\n')
    result = run_cli("agent", "serve", "--config", str(config))
    assert result.returncode == 1
    assert f"{tmp_path / 'state' / 'registration.json'} is missing" in result.stderr
    assert "failback-agent register" in result.stderr


def test_a_missing_certificate_names_the_file(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-nocert", Role.MASTER_TARGET)
    agent.stop()
    (agent.state_dir / "tls" / "identity.pem").unlink()
    service = Service.start("again", "agent", ["serve", "--config", str(agent.config)], work / "again")
    assert service.process.wait(30) == 1
    assert f"{agent.state_dir / 'tls' / 'identity.pem'} is missing" in service.log()
    assert "failback-agent register" in service.log()
    service.kill()
