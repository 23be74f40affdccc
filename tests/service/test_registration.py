"""Joining a controller: single-use tokens, expiry, pinning, renewal, revocation (T22, T23)."""

import datetime as dt
import json
import socket
import ssl
import time
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agent.api.v1 import agent_pb2, agent_pb2_grpc
from agent.trust import CertificateKeeper, Registration
from controller.store import Database, Enrollment
from failback.identity import Role
from failback.serving import load_tls_identity, secure_channel
from tests.harness import ControllerProcess, register_agent, run_cli, start_agent


def _register(controller: ControllerProcess, work: Path, name: str, token: str, fingerprint: str):
    token_file = work / f"{name}.token"
    token_file.write_text(token)
    return run_cli(
        "agent",
        "register",
        "--controller",
        str(controller.registration),
        "--token-file",
        str(token_file),
        "--ca-fingerprint",
        fingerprint,
        "--name",
        name,
        "--state-dir",
        str(work / name),
    )


def test_registration_ends_with_a_working_mutual_tls_call(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-good", Role.MASTER_TARGET)
    try:
        with secure_channel(str(agent.address), controller.own_tls(), agent.identity) as channel:
            info = agent_pb2_grpc.AgentStub(channel).GetInfo(agent_pb2.GetInfoRequest(), timeout=10)
        assert info.role == "master-target"
        lifetime = info.certificate_not_after.ToDatetime(dt.UTC) - dt.datetime.now(dt.UTC)
        assert dt.timedelta(days=6) < lifetime <= dt.timedelta(days=7, minutes=5)
        key_mode = (agent.state_dir / "tls" / "identity.pem").stat().st_mode & 0o777
        assert key_mode == 0o600
    finally:
        assert agent.stop() == 0


def test_the_certificate_carries_role_and_identity(controller: ControllerProcess, work: Path):
    state_dir = register_agent(controller, work, "ps-identity", Role.PROCESS_SERVER)
    tls = load_tls_identity(state_dir / "tls", remedy="")
    sans = tls.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://failback/process-server/ps-identity"]
    assert "ps-identity.process-server.failback.internal" in sans.get_values_for_type(x509.DNSName)


def test_a_token_cannot_be_used_twice(controller: ControllerProcess, work: Path):
    token, fingerprint = controller.token("master-target")
    assert _register(controller, work, "mt-first", token, fingerprint).returncode == 0
    second = _register(controller, work, "mt-second", token, fingerprint)
    assert second.returncode == 1
    assert "already used by 'mt-first'" in second.stderr
    assert not (work / "mt-second").exists()


def test_an_expired_token_is_refused(controller: ControllerProcess, work: Path):
    enrollment = Enrollment(Database.open(controller.database_url, migrate=False))
    issued = enrollment.create_token(
        "master-target", dt.timedelta(minutes=1), dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    )
    _token, fingerprint = controller.token("master-target")
    result = _register(controller, work, "mt-late", issued.token, fingerprint)
    assert result.returncode == 1
    assert "expired" in result.stderr
    assert not (work / "mt-late").exists()


def test_a_wrong_ca_fingerprint_stops_before_the_token_is_sent(controller: ControllerProcess, work: Path):
    token, _fingerprint = controller.token("master-target")
    result = _register(controller, work, "mt-pinned", token, "sha256:" + "ab" * 32)
    assert result.returncode == 1
    assert "does not present the CA you pinned" in result.stderr
    assert not (work / "mt-pinned").exists()
    # The token was never presented, so it still works.
    _other, fingerprint = controller.token("master-target")
    assert _register(controller, work, "mt-pinned", token, fingerprint).returncode == 0


def test_repeated_bad_tokens_are_rate_limited(work: Path, tmp_path_factory: pytest.TempPathFactory):
    from tests.harness import start_controller

    # A controller of its own: the limiter counts per source address, and every test here comes from 127.0.0.1.
    controller = start_controller(tmp_path_factory.mktemp("ratelimited"))
    try:
        _token, fingerprint = controller.token("master-target")
        answers = [
            _register(controller, work, f"mt-guess{n}", f"fbt.{n:016x}.not-a-secret", fingerprint).stderr
            for n in range(6)
        ]
        assert all("unknown token" in answer for answer in answers[:5])
        assert "too many failed registrations" in answers[5]
    finally:
        controller.stop()


def test_renewal_replaces_the_certificate_without_restarting_the_server(controller: ControllerProcess, work: Path):
    agent = start_agent(controller, work, "mt-renew", Role.MASTER_TARGET)
    try:
        before = agent.tls().serial
        registration = Registration.load(agent.state_dir)
        # A keeper that believes it is five days later: the 7-day certificate is due for renewal.
        later = CertificateKeeper(
            agent.state_dir, registration, clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
        )
        assert later.renewal_due()
        later.refresh()
        after = agent.tls().serial
        assert after != before
        served = _served_certificate(agent.address.host, agent.address.port)
        assert served.serial_number == after
        with secure_channel(str(agent.address), controller.own_tls(), agent.identity) as channel:
            assert agent_pb2_grpc.AgentStub(channel).GetInfo(agent_pb2.GetInfoRequest(), timeout=10).name == "mt-renew"
        listed = json.loads(controller.ctl("agents", "list", "--output", "json").stdout)
        record = next(item for item in listed["agents"] if item["name"] == "mt-renew")
        assert record["certificate_not_after"] > agent.tls().not_after.replace(tzinfo=None).isoformat()[:10]
    finally:
        assert agent.stop() == 0


def _served_certificate(host: str, port: int) -> x509.Certificate:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((host, port)) as raw, context.wrap_socket(raw) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def test_a_revoked_agent_is_refused_by_the_controller_and_by_other_agents(controller: ControllerProcess, work: Path):
    master = start_agent(controller, work, "mt-guard", Role.MASTER_TARGET, check_interval="1s")
    try:
        ps_dir = register_agent(controller, work, "ps-revoked", Role.PROCESS_SERVER)
        ps_tls = load_tls_identity(ps_dir / "tls", remedy="")

        def probe():
            with secure_channel(str(master.address), ps_tls, master.identity) as channel:
                return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)

        assert probe().status == health_pb2.HealthCheckResponse.SERVING
        result = controller.ctl("agents", "revoke", "ps-revoked", "--output", "json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["certificates_revoked"] == 1

        keeper = CertificateKeeper(ps_dir, Registration.load(ps_dir))
        with pytest.raises(Exception, match="revoked"):
            keeper.renew()

        # The master target refreshes its revocation list every second in this test.
        refused = _first_refusal(probe, seconds=20)
        assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "revoked" in refused.details()
    finally:
        assert master.stop() == 0


def _first_refusal(call, seconds: float) -> grpc.RpcError:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            call()
        except grpc.RpcError as exc:
            return exc
        time.sleep(0.2)
    raise AssertionError(f"still accepted after {seconds} s")
