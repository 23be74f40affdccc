"""Authorization decisions from the handshake's facts (the part of T17 the TLS stack does not do for us)."""

import datetime as dt

import grpc
import pytest

from controller.ca import CertificateAuthority
from failback.identity import Identity, Role
from failback.pki import generate_key
from failback.serving import AccessPolicy, PeerRejected, authorize

POLICY = AccessPolicy(
    {
        "failback.agent.v1.Agent": frozenset({Role.CONTROLLER}),
        "failback.agent.v1.Replication/Stream": frozenset({Role.PROCESS_SERVER}),
    }
)


@pytest.fixture(scope="module")
def certificate() -> bytes:
    ca = CertificateAuthority.create()
    return ca.issue(Identity(Role.CONTROLLER, "ctl"), generate_key().public_key(), lifetime=dt.timedelta(hours=1)).pem


def context(pem: bytes, *, tls: bytes = b"TLSv1.3", spiffe: bytes = b"spiffe://failback/controller/ctl") -> dict:
    return {"ssl_tls_version": [tls], "peer_spiffe_id": [spiffe], "x509_pem_cert": [pem]}


def test_a_declared_role_is_allowed(certificate: bytes):
    identity = authorize(context(certificate), "/failback.agent.v1.Agent/GetInfo", POLICY, lambda _s: False)
    assert identity == Identity(Role.CONTROLLER, "ctl")


def test_tls_1_2_is_refused_even_with_a_good_certificate(certificate: bytes):
    with pytest.raises(PeerRejected) as info:
        authorize(context(certificate, tls=b"TLSv1.2"), "/failback.agent.v1.Agent/GetInfo", POLICY, lambda _s: False)
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "TLS 1.3 is required, the session uses TLSv1.2" in info.value.message


def test_a_method_missing_from_the_policy_is_denied_to_everyone(certificate: bytes):
    with pytest.raises(PeerRejected) as info:
        authorize(context(certificate), "/failback.agent.v1.Secrets/Dump", POLICY, lambda _s: False)
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_method_rule_overrides_its_service_rule(certificate: bytes):
    with pytest.raises(PeerRejected):
        authorize(context(certificate), "/failback.agent.v1.Replication/Stream", POLICY, lambda _s: False)


def test_health_is_open_to_any_authenticated_role(certificate: bytes):
    assert authorize(context(certificate), "/grpc.health.v1.Health/Check", POLICY, lambda _s: False)


def test_a_revoked_serial_is_denied(certificate: bytes):
    with pytest.raises(PeerRejected, match="revoked") as info:
        authorize(context(certificate), "/grpc.health.v1.Health/Check", POLICY, lambda _s: True)
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_certificate_without_a_failback_identity_is_refused(certificate: bytes):
    with pytest.raises(PeerRejected) as info:
        authorize(
            context(certificate, spiffe=b"spiffe://example.org/web"),
            "/grpc.health.v1.Health/Check",
            POLICY,
            lambda _s: False,
        )
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
