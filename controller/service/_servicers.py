"""The controller's gRPC servicers: protobuf in, store and CA calls, protobuf out; errors become status codes."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import NoReturn

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from controller.api.v1 import controller_pb2, controller_pb2_grpc, registration_pb2, registration_pb2_grpc
from controller.ca import CertificateAuthority
from controller.service._ratelimit import FailureLimiter, peer_host
from controller.store import (
    AgentExists,
    AgentNotFound,
    AgentRow,
    Enrollment,
    StoreError,
    TokenExpired,
    TokenInvalid,
    TokenLocked,
    TokenUsed,
)
from failback.errors import FailbackError
from failback.identity import AGENT_ROLES, Identity, IdentityError, Role
from failback.pki import CertificateError
from failback.serving import AccessPolicy, StatusMap, abort_with, peer_identity

__all__ = ["POLICY", "CertificatesServicer", "EnrollmentServicer", "RegistrationServicer", "agent_record"]

log = logging.getLogger(__name__)

_AGENTS = frozenset(AGENT_ROLES)
_OPERATORS = frozenset({Role.OPERATOR})
POLICY = AccessPolicy(
    {
        "failback.controller.v1.Certificates": _AGENTS | _OPERATORS,
        "failback.controller.v1.Enrollment": _OPERATORS,
        "failback.controller.v1.AgentStatus": _AGENTS,
        "failback.controller.v1.Servers": _OPERATORS,
        "failback.controller.v1.Jobs": _OPERATORS,
        "failback.controller.v1.Sources": _OPERATORS,
        "failback.controller.v1.Inventory": _OPERATORS,
        "failback.controller.v1.Backup": _OPERATORS,
        "failback.controller.v1.Failback": _OPERATORS,
        "failback.controller.v1.Doctor": _OPERATORS,
        "failback.controller.v1.Points": _OPERATORS,
    }
)

_STATUS: StatusMap = [
    (TokenInvalid, grpc.StatusCode.UNAUTHENTICATED),
    (TokenExpired, grpc.StatusCode.PERMISSION_DENIED),
    (TokenUsed, grpc.StatusCode.PERMISSION_DENIED),
    (TokenLocked, grpc.StatusCode.PERMISSION_DENIED),
    (AgentExists, grpc.StatusCode.ALREADY_EXISTS),
    (AgentNotFound, grpc.StatusCode.NOT_FOUND),
    (CertificateError, grpc.StatusCode.INVALID_ARGUMENT),
    (IdentityError, grpc.StatusCode.INVALID_ARGUMENT),
    (StoreError, grpc.StatusCode.FAILED_PRECONDITION),
]

Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _timestamp(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _abort(context: grpc.ServicerContext, exc: FailbackError) -> NoReturn:
    abort_with(context, exc, _STATUS)


class RegistrationServicer(registration_pb2_grpc.RegistrationServicer):
    def __init__(
        self,
        ca: CertificateAuthority,
        enrollment: Enrollment,
        *,
        controller_name: str,
        api_port: int,
        lifetime: dt.timedelta,
        limiter: FailureLimiter,
        clock: Clock = _now,
    ) -> None:
        self._ca = ca
        self._api_port = api_port
        self._enrollment = enrollment
        self._controller_name = controller_name
        self._lifetime = lifetime
        self._limiter = limiter
        self._clock = clock

    def Register(
        self, request: registration_pb2.RegisterRequest, context: grpc.ServicerContext
    ) -> registration_pb2.RegisterResponse:
        host = peer_host(context.peer())
        wait = self._limiter.retry_after(host)
        if wait > 0:
            log.warning("registration from %s refused: too many failures", host)
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many failed registrations from {host}; try again in {wait:.0f} s",
            )
        try:
            return self._register(request)
        except (TokenInvalid, TokenExpired, TokenUsed, TokenLocked) as exc:
            self._limiter.record_failure(host)
            log.warning("registration of %r from %s refused: %s", request.name, host, exc.message)
            _abort(context, exc)
        except FailbackError as exc:
            log.warning("registration of %r from %s refused: %s", request.name, host, exc.message)
            _abort(context, exc)
        raise AssertionError("unreachable: abort raises")

    def _register(self, request: registration_pb2.RegisterRequest) -> registration_pb2.RegisterResponse:
        now = self._clock()
        # Check everything that does not spend the token first, so a typo does not burn it.
        Identity(Role.MASTER_TARGET, request.name)
        csr = self._ca.load_request(request.csr_pem)
        try:
            existing: AgentRow | None = self._enrollment.agent(request.name)
        except AgentNotFound:
            existing = None
        if existing is not None and existing.state == "active":
            raise AgentExists(
                f"an active agent is already registered as {request.name!r}",
                remedy=f"pick another name, or run 'failbackctl agents revoke {request.name}' if it was reinstalled",
            )
        redeemed = self._enrollment.redeem_token(request.token, request.name, now)
        identity = Identity(Role(redeemed.role), request.name)
        issued = self._ca.issue_from_csr(identity, csr, lifetime=self._lifetime)
        self._enrollment.register_agent(
            name=identity.name,
            role=identity.role.value,
            version=request.version[:64] or "unknown",
            hostname=request.hostname[:255],
            serial=issued.serial,
            not_after=issued.not_after,
            now=now,
        )
        log.info("registered %s (certificate serial %x, valid until %s)", identity, issued.serial, issued.not_after)
        return registration_pb2.RegisterResponse(
            certificate_pem=issued.pem,
            ca_pem=self._ca.certificate_pem,
            role=identity.role.value,
            controller_name=self._controller_name,
            not_after=_timestamp(issued.not_after),
            api_port=self._api_port,
        )


class CertificatesServicer(controller_pb2_grpc.CertificatesServicer):
    def __init__(
        self,
        ca: CertificateAuthority,
        enrollment: Enrollment,
        *,
        lifetime: dt.timedelta,
        crl_lifetime: dt.timedelta = dt.timedelta(hours=1),
        clock: Clock = _now,
    ) -> None:
        self._ca = ca
        self._enrollment = enrollment
        self._lifetime = lifetime
        self._crl_lifetime = crl_lifetime
        self._clock = clock

    def Renew(
        self, request: controller_pb2.RenewRequest, context: grpc.ServicerContext
    ) -> controller_pb2.RenewResponse:
        identity = peer_identity(context)
        now = self._clock()
        try:
            agent = self._enrollment.agent(identity.name)
            if agent.state != "active" or agent.role != identity.role.value:
                context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{identity} is not an active agent")
            issued = self._ca.issue_from_csr(identity, self._ca.load_request(request.csr_pem), lifetime=self._lifetime)
            self._enrollment.record_renewal(identity.name, issued.serial, issued.not_after, now)
        except FailbackError as exc:
            _abort(context, exc)
        log.info("renewed %s until %s", identity, issued.not_after)
        return controller_pb2.RenewResponse(
            certificate_pem=issued.pem, ca_pem=self._ca.certificate_pem, not_after=_timestamp(issued.not_after)
        )

    def GetRevocationList(
        self, request: controller_pb2.GetRevocationListRequest, context: grpc.ServicerContext
    ) -> controller_pb2.RevocationList:
        now = self._clock()
        crl = self._ca.revocation_list(self._enrollment.revoked_serials(now), lifetime=self._crl_lifetime)
        return controller_pb2.RevocationList(crl_pem=crl, next_update=_timestamp(now + self._crl_lifetime))


class EnrollmentServicer(controller_pb2_grpc.EnrollmentServicer):
    MAX_TTL = dt.timedelta(days=7)

    def __init__(self, ca: CertificateAuthority, enrollment: Enrollment, clock: Clock = _now) -> None:
        self._ca = ca
        self._enrollment = enrollment
        self._clock = clock

    def CreateToken(
        self, request: controller_pb2.CreateTokenRequest, context: grpc.ServicerContext
    ) -> controller_pb2.CreateTokenResponse:
        try:
            role = Role(request.role)
        except ValueError:
            role = None
        if role not in AGENT_ROLES:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"role must be master-target or process-server, got {request.role!r}",
            )
        ttl = dt.timedelta(seconds=request.ttl_seconds)
        if not dt.timedelta(minutes=1) <= ttl <= self.MAX_TTL:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "ttl must be between 1 minute and 7 days")
        issued = self._enrollment.create_token(request.role, ttl, self._clock())
        log.info("%s created a %s token valid until %s", peer_identity(context), request.role, issued.expires_at)
        return controller_pb2.CreateTokenResponse(
            token=issued.token,
            ca_fingerprint=self._ca.fingerprint,
            expires_at=_timestamp(issued.expires_at),
            role=issued.role,
        )

    def ListAgents(
        self, request: controller_pb2.ListAgentsRequest, context: grpc.ServicerContext
    ) -> controller_pb2.ListAgentsResponse:
        return controller_pb2.ListAgentsResponse(agents=[agent_record(row) for row in self._enrollment.agents()])

    def RevokeAgent(
        self, request: controller_pb2.RevokeAgentRequest, context: grpc.ServicerContext
    ) -> controller_pb2.RevokeAgentResponse:
        try:
            row, count = self._enrollment.revoke_agent(request.name, self._clock())
        except FailbackError as exc:
            _abort(context, exc)
        log.warning("%s revoked agent %s (%d certificates)", peer_identity(context), request.name, count)
        return controller_pb2.RevokeAgentResponse(agent=agent_record(row), certificates_revoked=count)


def agent_record(row: AgentRow) -> controller_pb2.AgentRecord:
    return controller_pb2.AgentRecord(
        name=row.name,
        role=row.role,
        version=row.version,
        hostname=row.hostname,
        state=row.state,
        registered_at=_timestamp(row.registered_at),
        certificate_not_after=_timestamp(row.certificate_not_after),
    )
