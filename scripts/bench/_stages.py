"""Where the CPU of the data path goes: each stage of the process server -> master target path, run alone in this
process over the same data, as CPU seconds per GB of source data (single thread; MB = 10^6 bytes)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from agent.api.v1 import replication_pb2 as pb
from agent.dataplane import (
    Batcher,
    DiskHasher,
    EncodedBatch,
    Extent,
    ScanSource,
    decode_batch,
    encode_batch,
)
from agent.journal import JournalOptions, PairJournal, PairSpec
from agent.replication import batch_from_proto, batch_to_proto

T = TypeVar("T")

__all__ = ["stage_costs"]


def _cpu(work: Callable[[], T]) -> tuple[T, float]:
    start = time.process_time()
    result = work()
    return result, time.process_time() - start


def stage_costs(image: bytes | bytearray, directory: str) -> dict[str, float]:
    size = len(image)
    gb = size / 1e9
    work = Path(tempfile.mkdtemp(prefix="stages-", dir=directory))
    source, target = work / "source.img", work / "target.img"
    source.write_bytes(image)
    with open(target, "wb") as handle:
        handle.write(bytes(size))
        os.fsync(handle.fileno())
    costs: dict[str, float] = {}
    with DiskHasher(target, size) as remote:
        # The master target's side of the resync compare, alone.
        _, costs["mt_resync_hashes"] = _cpu(lambda: [remote.hashes([e], 64 << 10) for e in _windows(size)])
        with ScanSource(source, remote, size=size) as scan:
            pending, scanned = _cpu(lambda: list(Batcher().cut(scan.changes(0))))
        costs["ps_scan_and_cut"] = scanned - costs["mt_resync_hashes"]
    encoded, costs["ps_compress_and_hash"] = _cpu(lambda: [encode_batch(batch) for batch in pending])
    wire, costs["ps_protobuf_serialize"] = _cpu(
        lambda: [pb.StreamRequest(batch=batch_to_proto(batch)).SerializeToString() for batch in encoded]
    )
    parsed, costs["mt_protobuf_parse"] = _cpu(
        lambda: [batch_from_proto(pb.StreamRequest.FromString(message).batch) for message in wire]
    )
    decoded, costs["mt_decompress_and_verify"] = _cpu(
        lambda: [decode_batch(seq, entries, size, generation=1) for seq, entries in parsed]
    )
    options = JournalOptions(background_apply=False)
    with PairJournal.open(work / "journal", PairSpec("stages", 1, size), target, options=options) as journal:
        _, costs["mt_journal_and_target"] = _cpu(lambda: [journal.append(batch) for batch in decoded])
    for path in (source, target):
        path.unlink()
    return {name: round(seconds / gb, 3) for name, seconds in costs.items()} | {
        "wire_to_source": round(sum(_wire_bytes(batch) for batch in encoded) / size, 3)
    }


def _windows(size: int) -> list[Extent]:
    window = 16 << 20
    return [Extent(offset, min(window, size - offset)) for offset in range(0, size, window)]


def _wire_bytes(batch: EncodedBatch) -> int:
    return batch.wire_bytes
