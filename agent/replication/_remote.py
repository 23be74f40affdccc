"""The master target's resync hashes as seen from the process server: ``agent.dataplane.RemoteHashes`` over the
``Replication.Hashes`` RPC.

A resync pass asks for the 64 KiB chunk hashes of consecutive windows of the disk. While the process server hashes
window N, the master target already hashes window N + 1 (fetched ahead on one background thread), so the two sides'
reads and hashing overlap instead of taking turns.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence

import grpc

from agent.api.v1 import replication_pb2 as pb
from agent.api.v1 import replication_pb2_grpc
from agent.dataplane import CHUNK_SIZE, DIGEST_SIZE, Extent
from agent.replication.errors import StreamBroken

__all__ = ["GrpcRemoteHashes"]

_Key = tuple[tuple[tuple[int, int], ...], int]


class GrpcRemoteHashes:
    """Hashes of pair ``pair_id`` (``generation``) on the master target behind ``channel``; each call is bounded by
    ``timeout`` seconds. Failures raise :class:`StreamBroken` (the sender reconnects and resumes the pass)."""

    def __init__(
        self, channel: grpc.Channel, pair_id: str, generation: int, *, disk_size: int, timeout: float = 60.0
    ) -> None:
        self._stub = replication_pb2_grpc.ReplicationStub(channel)
        self._pair_id = pair_id
        self._generation = generation
        self._disk_size = disk_size
        self._timeout = timeout
        self._ahead = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"hashes-{pair_id}")
        self._prefetched: tuple[_Key, concurrent.futures.Future[list[bytes]]] | None = None
        self.requests = 0
        self.bytes_received = 0

    def hashes(self, extents: Sequence[Extent], unit: int) -> list[bytes]:
        key: _Key = (tuple((e.offset, e.length) for e in extents), unit)
        if unit != CHUNK_SIZE:
            return self._call(key)  # the 4 KiB round inside a window: the next window's prefetch stays in flight
        prefetched, self._prefetched = self._prefetched, None
        if prefetched is not None and prefetched[0] == key:
            result = prefetched[1].result()
        else:
            if prefetched is not None:
                prefetched[1].cancel()
            result = self._call(key)
        if len(extents) == 1:
            start = extents[0].offset + extents[0].length
            if start < self._disk_size:
                after: _Key = (((start, min(extents[0].length, self._disk_size - start)),), unit)
                self._prefetched = (after, self._ahead.submit(self._call, after))
        return result

    def _call(self, key: _Key) -> list[bytes]:
        extents, unit = key
        request = pb.HashesRequest(
            pair_id=self._pair_id,
            generation=self._generation,
            unit=unit,
            extents=[pb.Extent(offset=offset, length=length) for offset, length in extents],
        )
        try:
            response = self._stub.Hashes(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            code = exc.code().name if isinstance(exc, grpc.Call) else "UNKNOWN"
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            raise StreamBroken(f"pair {self._pair_id}: resync hashes failed: {code}: {details}", status=code) from exc
        digests = response.digests
        if len(digests) % DIGEST_SIZE:
            raise StreamBroken(f"pair {self._pair_id}: the master target returned {len(digests)} bytes of hashes")
        self.requests += 1
        self.bytes_received += len(digests)
        return [digests[i : i + DIGEST_SIZE] for i in range(0, len(digests), DIGEST_SIZE)]

    def close(self) -> None:
        if self._prefetched is not None:
            self._prefetched[1].cancel()
        self._ahead.shutdown(wait=True, cancel_futures=True)
