import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from controller.ca import CertificateAuthority
from failback.identity import Identity, IdentityError, Role
from failback.pki import CertificateError, build_csr, certificate_identity, generate_key, normalise_fingerprint

names = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)


@given(role=st.sampled_from(list(Role)), name=names)
def test_identity_round_trips_through_its_uri(role: Role, name: str):
    identity = Identity(role, name)
    assert Identity.from_uri(identity.uri) == identity
    assert identity.dns_name == f"{name}.{role.value}.failback.internal"


@pytest.mark.parametrize("name", ["", "-lead", "trail-", "UPPER", "a" * 64, "dots.not.allowed", "sp ace"])
def test_invalid_names_are_refused_with_the_rule(name: str):
    with pytest.raises(IdentityError, match="lower-case letters"):
        Identity(Role.MASTER_TARGET, name)


def test_an_unknown_role_in_a_uri_is_refused():
    with pytest.raises(IdentityError, match="unknown role"):
        Identity.from_uri("spiffe://failback/superuser/x")


@pytest.mark.parametrize(
    "text",
    [
        "sha256:" + "AB" * 32,
        ":".join(["ab"] * 32),
        "SHA256 Fingerprint=" + ":".join(["AB"] * 32),
        " " + "ab" * 32 + "\n",
    ],
)
def test_fingerprints_are_accepted_in_the_forms_tools_print(text: str):
    assert normalise_fingerprint(text) == "sha256:" + "ab" * 32


@pytest.mark.parametrize("text", ["", "sha256:abc", "zz" * 32, "ab" * 33])
def test_malformed_fingerprints_are_refused(text: str):
    with pytest.raises(CertificateError, match="not a SHA-256 fingerprint"):
        normalise_fingerprint(text)


def test_the_ca_decides_the_identity_and_keeps_requested_names():
    ca = CertificateAuthority.create()
    key = generate_key()
    csr = CertificateAuthority.load_request(
        build_csr(key, "ps1", ["ps1.example.com", "10.1.2.3"]).public_bytes(Encoding.PEM)
    )
    issued = ca.issue_from_csr(Identity(Role.PROCESS_SERVER, "ps1"), csr, lifetime=dt.timedelta(days=7))
    assert certificate_identity(issued.certificate) == Identity(Role.PROCESS_SERVER, "ps1")
    sans = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "ps1.example.com" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]


def test_a_request_for_a_reserved_synthetic_name_is_refused():
    ca = CertificateAuthority.create()
    pem = build_csr(generate_key(), "evil", ["controller.controller.failback.internal"]).public_bytes(Encoding.PEM)
    with pytest.raises(CertificateError, match="reserved name"):
        ca.issue_from_csr(
            Identity(Role.PROCESS_SERVER, "evil"), CertificateAuthority.load_request(pem), lifetime=dt.timedelta(days=1)
        )


def test_the_ca_key_is_created_private_and_reloaded(tmp_path):
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    assert (tmp_path / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert CertificateAuthority.load_or_create(tmp_path / "ca").fingerprint == ca.fingerprint


def test_a_half_present_ca_is_an_error_not_a_new_ca(tmp_path):
    CertificateAuthority.load_or_create(tmp_path / "ca")
    (tmp_path / "ca" / "ca.pem").unlink()
    with pytest.raises(CertificateError, match="incomplete"):
        CertificateAuthority.load_or_create(tmp_path / "ca")


def test_a_ca_key_readable_by_others_is_refused(tmp_path):
    CertificateAuthority.load_or_create(tmp_path / "ca")
    (tmp_path / "ca" / "ca.key").chmod(0o644)
    with pytest.raises(CertificateError, match="chmod 600"):
        CertificateAuthority.load_or_create(tmp_path / "ca")
