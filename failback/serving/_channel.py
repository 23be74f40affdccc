"""Client channels with the same rules as the servers: mutual TLS, the peer verified as a named identity,
keepalives that notice a silent partition, and explicit message limits."""

from __future__ import annotations

import grpc

from failback.identity import Identity
from failback.serving._credentials import TlsIdentity

__all__ = ["CHANNEL_OPTIONS", "MAX_MESSAGE_BYTES", "secure_channel"]

# Block batches are ~1 MiB of compressed data; gRPC's default 4 MiB receive limit is too tight for a batch of
# incompressible blocks plus framing, and must be raised on both sides explicitly.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

# A silent partition (no RST) only shows as missing keepalive acks: ping every 10 s, give up 10 s later, so a
# stalled stream is declared dead within ~20 s (the requirement is 30 s).
_KEEPALIVE = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]

CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    *_KEEPALIVE,
]

SERVER_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    *_KEEPALIVE,
    # Clients ping every 10 s; allow that without the server answering GOAWAY "too_many_pings".
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.min_time_between_pings_ms", 5_000),
]


def secure_channel(address: str, tls: TlsIdentity, peer: Identity) -> grpc.Channel:
    """A channel to ``address`` that only talks to ``peer`` (verified by its synthetic DNS name)."""
    return grpc.secure_channel(
        address,
        tls.channel_credentials(),
        options=[*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", peer.dns_name)],
    )
