"""``failback-agent register``: key, CSR, token, certificate, and the registration record on disk.

State directory layout (all written atomically; the key file 0600):

    <state_dir>/registration.json   name, role, controller address and name, CA fingerprint (no secrets)
    <state_dir>/tls/identity.pem    private key + certificate
    <state_dir>/tls/ca.pem          the controller's CA
    <state_dir>/tls/crl.pem         the latest revocation list (after the first refresh)
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.serialization import Encoding

from agent.trust._bootstrap import fetch_pinned_ca
from agent.trust.errors import ControllerUnreachable, RegistrationError
from controller.api.v1 import registration_pb2, registration_pb2_grpc
from failback import __version__
from failback.config import Address, parse_address
from failback.errors import ConfigError
from failback.identity import Identity, Role
from failback.pki import build_csr, generate_key, key_pem, normalise_fingerprint, write_public
from failback.serving import CHANNEL_OPTIONS, TlsIdentity

__all__ = ["Registration", "register"]

_RPC_TIMEOUT = 30.0


@dataclass(frozen=True)
class Registration:
    name: str
    role: str
    controller_address: str
    controller_name: str
    ca_fingerprint: str
    extra_names: tuple[str, ...] = ()

    @property
    def identity(self) -> Identity:
        return Identity(Role(self.role), self.name)

    @property
    def controller(self) -> Identity:
        return Identity(Role.CONTROLLER, self.controller_name)

    @staticmethod
    def path(state_dir: Path) -> Path:
        return state_dir / "registration.json"

    @classmethod
    def load(cls, state_dir: Path) -> Registration:
        path = cls.path(state_dir)
        try:
            data = json.loads(path.read_text())
            data["extra_names"] = tuple(data.get("extra_names", ()))
            return cls(**data)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{path} is missing: this agent is not registered",
                remedy="run 'failback-agent register --controller HOST:9441 --token-file FILE "
                "--ca-fingerprint SHA256 --name NAME' with a token from 'failbackctl token create'",
            ) from exc
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"{path} is unreadable or damaged: {exc}", remedy="register the agent again") from exc

    def save(self, state_dir: Path) -> None:
        write_public(self.path(state_dir), json.dumps(asdict(self), indent=2).encode() + b"\n")


def register(
    *,
    controller: str,
    token: str,
    ca_fingerprint: str,
    name: str,
    state_dir: Path,
    extra_names: tuple[str, ...] = (),
    force: bool = False,
) -> Registration:
    """Join the controller at ``controller`` (its registration port). Nothing is written unless it succeeds."""
    try:
        address: Address = parse_address(controller, allow_zero_port=False)
    except ValueError as exc:
        raise ConfigError(f"--controller: {exc}") from exc
    pinned = normalise_fingerprint(ca_fingerprint)
    Identity(Role.MASTER_TARGET, name)  # validates the name before any network traffic
    if Registration.path(state_dir).exists() and not force:
        existing = Registration.load(state_dir)
        raise RegistrationError(
            f"{state_dir} already holds the registration of {existing.identity}",
            remedy="pass --force to replace it (revoke the old identity with 'failbackctl agents revoke' first)",
        )
    ca_pem, controller_identity = fetch_pinned_ca(address, pinned)
    key = generate_key()
    csr = build_csr(key, name, extra_names)
    channel = grpc.secure_channel(
        str(address),
        grpc.ssl_channel_credentials(root_certificates=ca_pem),
        options=[*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", controller_identity.dns_name)],
    )
    with channel:
        try:
            response = registration_pb2_grpc.RegistrationStub(channel).Register(
                registration_pb2.RegisterRequest(
                    token=token.strip(),
                    name=name,
                    csr_pem=csr.public_bytes(Encoding.PEM),
                    version=__version__,
                    hostname=socket.gethostname(),
                ),
                timeout=_RPC_TIMEOUT,
            )
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise ControllerUnreachable(f"the controller at {address} did not answer: {exc.details()}") from exc
            raise RegistrationError(f"the controller refused the registration: {exc.details()}") from exc
    if response.ca_pem != ca_pem:
        raise RegistrationError("the controller answered with a CA other than the pinned one")
    registration = Registration(
        name=name,
        role=response.role,
        controller_address=str(Address(address.host, response.api_port)),
        controller_name=response.controller_name,
        ca_fingerprint=pinned,
        extra_names=extra_names,
    )
    TlsIdentity.save(state_dir / "tls", key_pem(key), response.certificate_pem, response.ca_pem)
    registration.save(state_dir)
    return registration
