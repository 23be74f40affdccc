"""Authorization before any handler runs.

The TLS handshake already proved the peer holds a certificate from our CA (client certificates are required and
verified). This interceptor then refuses, in order: a session that is not TLS 1.3 (grpcio offers no minimum-version
setting, so it is enforced here from the negotiated version), a certificate without a failback identity, a revoked
certificate, and a role the method's policy does not list. Methods absent from the policy are refused to everyone:
authorization is deny-by-default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
from cryptography import x509

from failback.identity import Identity, IdentityError, Role

__all__ = ["AccessPolicy", "Authorizer", "PeerRejected", "authorize", "peer_identity"]

audit_log = logging.getLogger("failback.audit")

# Health and reflection answer any authenticated peer: monitoring uses whatever certificate it has.
_OPEN_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)


class PeerRejected(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AccessPolicy:
    """Who may call what. Keys are ``package.Service`` or ``package.Service/Method`` (the method entry wins)."""

    rules: Mapping[str, frozenset[Role]]

    def roles_for(self, method: str) -> frozenset[Role] | None:
        """``method`` is gRPC's ``/package.Service/Method``."""
        path = method.lstrip("/")
        service = path.split("/", 1)[0]
        if service in _OPEN_SERVICES:
            return frozenset(Role)
        if path in self.rules:
            return self.rules[path]
        return self.rules.get(service)


AuthContext = Mapping[str, Sequence[bytes]]


def authorize(
    auth_context: AuthContext,
    method: str,
    policy: AccessPolicy,
    is_revoked: Callable[[int], bool],
) -> Identity:
    """Decide from the handshake's facts; raise :class:`PeerRejected` with the status to return."""
    if auth_context.get("ssl_tls_version") != [b"TLSv1.3"]:
        version = b",".join(auth_context.get("ssl_tls_version", [b"none"])).decode()
        raise PeerRejected(grpc.StatusCode.UNAUTHENTICATED, f"TLS 1.3 is required, the session uses {version}")
    spiffe = auth_context.get("peer_spiffe_id")
    if not spiffe or len(spiffe) != 1:
        raise PeerRejected(grpc.StatusCode.UNAUTHENTICATED, "the client certificate carries no failback identity")
    try:
        identity = Identity.from_uri(spiffe[0].decode())
    except (IdentityError, UnicodeDecodeError) as exc:
        raise PeerRejected(grpc.StatusCode.UNAUTHENTICATED, str(exc)) from exc
    pem = auth_context.get("x509_pem_cert")
    if not pem:
        raise PeerRejected(grpc.StatusCode.UNAUTHENTICATED, "no client certificate")
    serial = x509.load_pem_x509_certificate(pem[0]).serial_number
    if is_revoked(serial):
        raise PeerRejected(grpc.StatusCode.PERMISSION_DENIED, f"the certificate of {identity} has been revoked")
    roles = policy.roles_for(method)
    if roles is None or identity.role not in roles:
        raise PeerRejected(grpc.StatusCode.PERMISSION_DENIED, f"{identity.role.value} may not call {method}")
    return identity


def peer_identity(context: grpc.ServicerContext) -> Identity:
    """The caller's identity; only valid inside a handler the :class:`Authorizer` let through."""
    return Identity.from_uri(_auth_context(context)["peer_spiffe_id"][0].decode())


def _auth_context(context: grpc.ServicerContext) -> AuthContext:
    # The stubs type values as bytes; gRPC returns a list of bytes per property.
    return cast(AuthContext, context.auth_context())


class Authorizer(grpc.ServerInterceptor):
    def __init__(self, policy: AccessPolicy, is_revoked: Callable[[int], bool] = lambda _serial: False) -> None:
        self._policy = policy
        self._is_revoked = is_revoked

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        return _guarded(handler, lambda context: self._check(context, method))

    def _check(self, context: grpc.ServicerContext, method: str) -> None:
        try:
            identity = authorize(_auth_context(context), method, self._policy, self._is_revoked)
        except PeerRejected as rejected:
            audit_log.warning("refused %s from %s: %s", method, context.peer(), rejected.message)
            context.abort(rejected.code, rejected.message)
        else:
            audit_log.debug("allowed %s for %s", method, identity)


def _guarded(
    handler: grpc.RpcMethodHandler[Any, Any], check: Callable[[grpc.ServicerContext], None]
) -> grpc.RpcMethodHandler[Any, Any]:
    """The same handler, with ``check`` run first for every call shape."""

    def unary(behaviour: Callable[..., Any]) -> Callable[..., Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            check(context)
            return behaviour(request, context)

        return call

    def streaming(behaviour: Callable[..., Any]) -> Callable[..., Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            check(context)
            yield from behaviour(request, context)

        return call

    kinds = {
        "unary_unary": (grpc.unary_unary_rpc_method_handler, unary),
        "unary_stream": (grpc.unary_stream_rpc_method_handler, streaming),
        "stream_unary": (grpc.stream_unary_rpc_method_handler, unary),
        "stream_stream": (grpc.stream_stream_rpc_method_handler, streaming),
    }
    for attribute, (make, wrap) in kinds.items():
        behaviour = getattr(handler, attribute)
        if behaviour is not None:
            return make(
                wrap(behaviour),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    raise ValueError("gRPC handler without a behaviour")
