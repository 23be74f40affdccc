"""The Prometheus endpoint: a separate listener, loopback unless configured otherwise."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server

from failback.config import Address

__all__ = ["start_metrics"]


def start_metrics(address: Address, registry: CollectorRegistry) -> tuple[object, int]:
    """Start serving ``/metrics``; returns the server (``shutdown()`` stops it) and the bound port."""
    server, _thread = start_http_server(address.port, addr=address.host, registry=registry)
    return server, server.server_port
