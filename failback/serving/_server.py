"""A gRPC server with only a mutual-TLS port, health per service, reflection and authorization."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from failback.config import Address
from failback.errors import PermanentError
from failback.retry import Policy
from failback.serving._authz import AccessPolicy, Authorizer
from failback.serving._channel import SERVER_OPTIONS
from failback.serving._credentials import TlsIdentity

__all__ = ["GrpcServer", "ServiceBinding"]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class ServiceBinding:
    """A servicer and how to add it: ``name`` is the full service name (``failback.agent.v1.Agent``)."""

    name: str
    add_to_server: Callable[[Any, grpc.Server], None]
    servicer: Any


class GrpcServer:
    def __init__(
        self,
        *,
        listen: Address,
        tls: TlsIdentity | None,
        services: Sequence[ServiceBinding],
        policy: AccessPolicy | None,
        is_revoked: Callable[[int], bool] = lambda _serial: False,
        max_workers: int = 64,
        server_credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        """``tls`` + ``policy``: a mutual-TLS port with authorization. ``server_credentials`` instead: a port
        whose credentials the caller built (the controller's registration port: TLS without client certificates)."""
        if (tls is None) == (server_credentials is None):
            raise ValueError("give either a TLS identity or explicit server credentials")
        interceptors: list[grpc.ServerInterceptor] = [Authorizer(policy, is_revoked)] if policy is not None else []
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
            interceptors=interceptors,
            options=SERVER_OPTIONS,
            maximum_concurrent_rpcs=max_workers * 4,
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        names = [binding.name for binding in services]
        for binding in services:
            binding.add_to_server(binding.servicer, self._server)
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server)
        self._service_names = names
        credentials = server_credentials or tls.server_credentials()  # type: ignore[union-attr]
        try:
            self.port = self._server.add_secure_port(str(listen), credentials)
        except RuntimeError as exc:
            raise PermanentError(
                f"cannot listen on {listen}: {exc}", remedy="is another process using the port?"
            ) from exc
        self._listen = listen

    @property
    def bound(self) -> Address:
        """The configured host with the port actually bound (differs when configured with port 0)."""
        return Address(self._listen.host, self.port)

    @property
    def address(self) -> Address:
        """Where a local client reaches the server."""
        return self.bound.local()

    def start(self) -> None:
        self._server.start()
        self.set_serving(True)

    def wait_until_accepting(self, deadline: float = 10.0) -> None:
        """Return once a TCP connection to the port succeeds (what READY=1 promises systemd)."""

        def probe() -> bool | None:
            try:
                with socket.create_connection((self.address.host, self.address.port), timeout=1.0):
                    return True
            except OSError:
                return None

        Policy(deadline=deadline, initial=0.01, maximum=0.2, jitter=0.01).wait_for(probe, what=f"port {self.port}")

    def set_serving(self, serving: bool, service: str | None = None) -> None:
        """Overall health (service ``""``) and each service's, or only ``service``'s when given."""
        status = SERVING if serving else NOT_SERVING
        for name in [service] if service is not None else ["", *self._service_names]:
            self.health.set(name, status)

    def drain(self, grace: float) -> None:
        """Turn NOT_SERVING, refuse new calls, let in-flight calls finish for ``grace`` seconds, then cancel them."""
        self.health.enter_graceful_shutdown()
        self._server.stop(grace).wait()
