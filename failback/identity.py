"""Who is who: roles, names, and how an identity is written into and read from a certificate.

An identity is ``(role, name)``. Certificates carry it twice, on purpose:

* a URI SAN ``spiffe://failback/<role>/<name>`` — what authorization reads;
* a DNS SAN ``<name>.<role>.failback.internal`` — what TLS host-name verification checks. Clients always verify
  the peer against the synthetic name of the identity they expect (``grpc.ssl_target_name_override``), so a
  connection succeeds only with *that* agent, whatever address it has today (addresses change in a DR).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from failback.errors import PermanentError

__all__ = ["AGENT_ROLES", "SYNTHETIC_DNS_SUFFIX", "Identity", "IdentityError", "Role"]

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_URI = re.compile(r"^spiffe://failback/(?P<role>[a-z-]+)/(?P<name>[^/]+)$")
_TRUST_DOMAIN = "failback"
SYNTHETIC_DNS_SUFFIX = ".failback.internal"


class IdentityError(PermanentError):
    """A name or certificate identity that does not follow the rules above."""


class Role(enum.StrEnum):
    CONTROLLER = "controller"
    OPERATOR = "operator"
    MASTER_TARGET = "master-target"
    PROCESS_SERVER = "process-server"


AGENT_ROLES = frozenset({Role.MASTER_TARGET, Role.PROCESS_SERVER})


@dataclass(frozen=True, order=True)
class Identity:
    role: Role
    name: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise IdentityError(
                f"invalid name {self.name!r}",
                remedy="use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit",
            )

    @property
    def uri(self) -> str:
        return f"spiffe://{_TRUST_DOMAIN}/{self.role.value}/{self.name}"

    @property
    def dns_name(self) -> str:
        return f"{self.name}.{self.role.value}{SYNTHETIC_DNS_SUFFIX}"

    @classmethod
    def from_uri(cls, uri: str) -> Identity:
        match = _URI.match(uri)
        if not match:
            raise IdentityError(f"{uri!r} is not a failback identity URI")
        try:
            role = Role(match["role"])
        except ValueError as exc:
            raise IdentityError(f"{uri!r} names an unknown role {match['role']!r}") from exc
        return cls(role, match["name"])

    def __str__(self) -> str:
        return f"{self.role.value}/{self.name}"
