"""Connecting: TLS verified by CA file or pinned SHA-256 thumbprint, login, and what credentials refuse."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from controller.vsphere import Credentials, connect
from controller.vsphere.errors import AuthenticationFailed, CertificateRejected, InvalidRequest
from lab.vcsim import Simulator
from tests.vsphere.conftest import credentials_for


def _other_ca(path: Path) -> Path:
    """A valid self-signed certificate for 127.0.0.1 that is not the simulator's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.mark.vcsim
def test_connects_when_the_ca_file_verifies_the_certificate(vcsim: Simulator) -> None:
    with connect(credentials_for(vcsim)) as vc:
        assert vc.user == vcsim.username
        assert vc.api_version == "6.5"


@pytest.mark.vcsim
def test_connects_with_the_pinned_sha256_thumbprint(vcsim: Simulator) -> None:
    pinned = ":".join(vcsim.thumbprint_sha256[i : i + 2] for i in range(0, 64, 2)).upper()
    with connect(credentials_for(vcsim, ca_file=None, thumbprint_sha256=pinned)) as vc:
        assert vc.inventory().about.api_type == "VirtualCenter"


@pytest.mark.vcsim
def test_a_wrong_thumbprint_is_refused(vcsim: Simulator) -> None:
    wrong = "00" * 32
    with pytest.raises(CertificateRejected, match="not the pinned one"):
        connect(credentials_for(vcsim, ca_file=None, thumbprint_sha256=wrong))


@pytest.mark.vcsim
def test_a_certificate_from_another_ca_is_refused(vcsim: Simulator, tmp_path: Path) -> None:
    with pytest.raises(CertificateRejected, match="not trusted"):
        connect(credentials_for(vcsim, ca_file=_other_ca(tmp_path / "other.pem")))


@pytest.mark.vcsim
def test_a_wrong_password_is_an_authentication_error(vcsim: Simulator) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        connect(credentials_for(vcsim, password="not-the-password"))
    assert caught.value.fault == "vim.fault.InvalidLogin"


def test_the_password_never_appears_in_the_credentials_repr() -> None:
    credentials = Credentials(host="vc.example.com", user="failback", password="s3cret-value", ca_file=Path("/ca"))
    assert "s3cret-value" not in repr(credentials)
    assert "s3cret-value" not in str(credentials)


def test_credentials_need_exactly_one_way_to_trust_the_server() -> None:
    with pytest.raises(InvalidRequest, match="exactly one"):
        Credentials(host="vc.example.com", user="u", password="p")
    with pytest.raises(InvalidRequest, match="exactly one"):
        Credentials(host="vc.example.com", user="u", password="p", ca_file=Path("/ca"), thumbprint_sha256="ab" * 32)


def test_a_thumbprint_is_normalised_to_lowercase_hex() -> None:
    credentials = Credentials(host="vc", user="u", password="p", thumbprint_sha256=":".join(["AB"] * 32))
    assert credentials.thumbprint_sha256 == "ab" * 32


@pytest.mark.parametrize("thumbprint", ["ab" * 20, "zz" * 32, ""])
def test_a_thumbprint_that_is_not_sha256_is_refused(thumbprint: str) -> None:
    with pytest.raises(InvalidRequest, match="SHA-256"):
        Credentials(host="vc", user="u", password="p", thumbprint_sha256=thumbprint)


@pytest.mark.parametrize("host", ["https://vc.example.com", "vc.example.com/sdk", ""])
def test_a_url_is_not_a_host(host: str) -> None:
    with pytest.raises(InvalidRequest, match="host"):
        Credentials(host=host, user="u", password="p", ca_file=Path("/ca"))
