"""Serving gRPC the failback way: mutual TLS 1.3 only, role-based authorization before any handler, health,
reflection, Prometheus metrics, sd_notify and graceful draining. Both the agent and the controller use this package.
"""

from failback.serving._authz import AccessPolicy, Authorizer, PeerRejected, authorize, peer_identity
from failback.serving._channel import CHANNEL_OPTIONS, MAX_MESSAGE_BYTES, secure_channel
from failback.serving._credentials import TlsIdentity, load_tls_identity
from failback.serving._lifecycle import run_until_signalled
from failback.serving._metrics import start_metrics
from failback.serving._server import GrpcServer, ServiceBinding
from failback.serving._status import StatusMap, abort_with

__all__ = [
    "CHANNEL_OPTIONS",
    "MAX_MESSAGE_BYTES",
    "AccessPolicy",
    "Authorizer",
    "GrpcServer",
    "PeerRejected",
    "ServiceBinding",
    "StatusMap",
    "TlsIdentity",
    "abort_with",
    "authorize",
    "load_tls_identity",
    "peer_identity",
    "run_until_signalled",
    "secure_channel",
    "start_metrics",
]
