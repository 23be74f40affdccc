"""The data path, independent of any transport: block model, wire codec and validation, resync hashing, change
sources, the change tracker, batching, the on-disk backlog and flow control.

Receiver (master target)::

    batch = decode_batch(seq, entries, disk_size, generation=g)  # all-or-nothing; InvalidInput / CorruptData, no I/O

Sender (process server)::

    log = ChangeLogSource(log_dir)
    source = ReprotectSource(ScanSource(disk, remote_hashes), log, log_start, durable_position=log.durable_position,
                             resync_end=saved_end, on_resync_end=save_end)
    sender = PairSender(pair, source=source, backlog=SendIndex(...) or Backlog(...), encoder=BatchEncoder(),
                        window=InflightWindow(), progress=ProgressRecorder(pair, generation), limiter=shared_limiter)
    sender.connect(receiver_watermark, transport); sender.pump(transport)   # acks: sender.acknowledge(watermark)

This package never imports gRPC or protobuf; the stream servicer and client translate to and from these types. The
block model and the durable-write I/O layer (``agent.journal.IO``, recorded and fault-injected by
``agent.journal.RecordingIO``) are the storage engine's: one definition each, shared by both sides.
"""

from agent.dataplane._attest import SourceDigest, digest_at_bookmark, digest_at_end, writer_active
from agent.dataplane._backlog import Backlog
from agent.dataplane._batch import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES,
    BatchEncoder,
    Batcher,
    PendingBatch,
    decode_batch,
    encode_batch,
)
from agent.dataplane._changelog import AcknowledgedPosition, ChangeLogSource, read_acknowledged, read_durable
from agent.dataplane._clock import SYSTEM_CLOCK, Clock, SystemClock
from agent.dataplane._codec import (
    DIGEST_SIZE,
    MAX_BLOCK_BYTES,
    Codec,
    EncodedBlock,
    check_extent,
    decode_and_validate,
    digest_of,
    encode_block,
    zero_digest,
)
from agent.dataplane._hashing import (
    CHUNK_SIZE,
    MAX_HASHES_PER_REQUEST,
    DiskHasher,
    RemoteHashes,
    disk_digest,
    plan_resync,
    range_hashes,
)
from agent.dataplane._limiter import BandwidthLimiter, Limiter, Ticket
from agent.dataplane._model import (
    BLOCK_SIZE,
    Batch,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    Entry,
    Extent,
    validate_bookmark,
)
from agent.dataplane._progress import PairProgress, ProgressRecorder
from agent.dataplane._reprotect import LOG_PHASE, ReprotectSource
from agent.dataplane._scan import DiskReader, ScanSource
from agent.dataplane._sender import PairSender, SendLog, Transport
from agent.dataplane._sendindex import SendIndex
from agent.dataplane._source import ChangeSource, SourceEntry
from agent.dataplane._tracker import Tracker
from agent.dataplane._window import InflightWindow
from agent.dataplane._wire import EncodedBatch

__all__ = [
    "BLOCK_SIZE",
    "CHUNK_SIZE",
    "DIGEST_SIZE",
    "LOG_PHASE",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_ENTRIES",
    "MAX_BLOCK_BYTES",
    "MAX_HASHES_PER_REQUEST",
    "SYSTEM_CLOCK",
    "AcknowledgedPosition",
    "Backlog",
    "BandwidthLimiter",
    "Batch",
    "BatchEncoder",
    "Batcher",
    "BlockWrite",
    "Bookmark",
    "BookmarkKind",
    "ChangeLogSource",
    "ChangeSource",
    "Clock",
    "Codec",
    "DiskHasher",
    "DiskReader",
    "EncodedBatch",
    "EncodedBlock",
    "Entry",
    "Extent",
    "InflightWindow",
    "Limiter",
    "PairProgress",
    "PairSender",
    "PendingBatch",
    "ProgressRecorder",
    "RemoteHashes",
    "ReprotectSource",
    "ScanSource",
    "SendIndex",
    "SendLog",
    "SourceDigest",
    "SourceEntry",
    "SystemClock",
    "Ticket",
    "Tracker",
    "Transport",
    "check_extent",
    "decode_and_validate",
    "decode_batch",
    "digest_at_bookmark",
    "digest_at_end",
    "digest_of",
    "disk_digest",
    "encode_batch",
    "encode_block",
    "plan_resync",
    "range_hashes",
    "read_acknowledged",
    "read_durable",
    "validate_bookmark",
    "writer_active",
    "zero_digest",
]
