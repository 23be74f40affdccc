"""The mutual-TLS matrix: every wrong kind of caller is turned away before a handler runs (T17)."""

import datetime as dt
from collections.abc import Iterator

import grpc
import pytest

from agent.api.v1 import agent_pb2, agent_pb2_grpc
from controller.ca import CertificateAuthority
from failback.identity import Identity, Role
from failback.pki import generate_key, key_pem
from failback.serving import CHANNEL_OPTIONS
from tests.harness import AgentProcess, ControllerProcess, start_agent


@pytest.fixture(scope="module")
def agent(controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    process = start_agent(controller, tmp_path_factory.mktemp("agents"), "mt-matrix", Role.MASTER_TARGET)
    yield process
    assert process.stop() == 0


def _ca(controller: ControllerProcess) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(controller.state_dir / "ca")


def _get_info(agent: AgentProcess, credentials: grpc.ChannelCredentials, expect: Identity | None = None):
    options = [*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", (expect or agent.identity).dns_name)]
    with grpc.secure_channel(str(agent.address), credentials, options=options) as channel:
        return agent_pb2_grpc.AgentStub(channel).GetInfo(agent_pb2.GetInfoRequest(), timeout=10)


def _client(ca: CertificateAuthority, identity: Identity, trust: bytes, **issue) -> grpc.ChannelCredentials:
    key = generate_key()
    issued = ca.issue(identity, key.public_key(), lifetime=issue.pop("lifetime", dt.timedelta(hours=1)), **issue)
    return grpc.ssl_channel_credentials(trust, key_pem(key), issued.pem)


def test_the_controller_is_accepted(agent: AgentProcess, controller: ControllerProcess):
    tls = controller.own_tls()
    info = _get_info(agent, tls.channel_credentials())
    assert (info.name, info.role) == ("mt-matrix", "master-target")


def test_a_caller_without_a_client_certificate_is_refused(agent: AgentProcess, controller: ControllerProcess):
    credentials = grpc.ssl_channel_credentials(controller.own_tls().ca_pem)
    with pytest.raises(grpc.RpcError) as info:
        _get_info(agent, credentials)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_an_expired_certificate_is_refused(agent: AgentProcess, controller: ControllerProcess):
    ca = _ca(controller)
    stale_start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    credentials = _client(ca, Identity(Role.CONTROLLER, "controller"), ca.certificate_pem, not_before=stale_start)
    with pytest.raises(grpc.RpcError) as info:
        _get_info(agent, credentials)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_certificate_from_another_ca_is_refused(agent: AgentProcess, controller: ControllerProcess):
    other = CertificateAuthority.create()
    # It trusts our CA for the server, but presents a client certificate our CA never issued.
    credentials = _client(other, Identity(Role.CONTROLLER, "controller"), controller.own_tls().ca_pem)
    with pytest.raises(grpc.RpcError) as info:
        _get_info(agent, credentials)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_valid_certificate_with_the_wrong_role_is_denied(agent: AgentProcess, controller: ControllerProcess):
    ca = _ca(controller)
    credentials = _client(ca, Identity(Role.PROCESS_SERVER, "ps-intruder"), ca.certificate_pem)
    with pytest.raises(grpc.RpcError) as info:
        _get_info(agent, credentials)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "process-server may not call /failback.agent.v1.Agent/GetInfo" in info.value.details()
    assert "refused /failback.agent.v1.Agent/GetInfo" in agent.service.log()


def test_a_server_with_another_name_is_refused_by_the_client(agent: AgentProcess, controller: ControllerProcess):
    tls = controller.own_tls()
    with pytest.raises(grpc.RpcError) as info:
        _get_info(agent, tls.channel_credentials(), expect=Identity(Role.MASTER_TARGET, "mt-somebody-else"))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_plaintext_client_is_refused(agent: AgentProcess):
    with grpc.insecure_channel(str(agent.address)) as channel, pytest.raises(grpc.RpcError) as info:
        agent_pb2_grpc.AgentStub(channel).GetInfo(agent_pb2.GetInfoRequest(), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_agent_has_no_plaintext_listener(agent: AgentProcess):
    """Whatever port the agent opened, it speaks TLS: a raw HTTP/2 preface gets no HTTP/2 answer."""
    import socket

    with socket.create_connection((agent.address.host, agent.address.port), timeout=5) as sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        sock.settimeout(5)
        try:
            answer = sock.recv(64)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert not answer.startswith(b"\x00\x00"), "an HTTP/2 SETTINGS frame came back over plaintext"
