"""Replication pairs on both agents: what a pair is, its persisted record, the master target's receive side (who may
send, which stream is current, the journal it appends to) and the process server's sender (the stream client, resync
hashes over the wire, reconnecting and resuming).

Master target::

    registry = TargetRegistry(PairStore(state_dir / "pairs", "master-target"), resolve_target=...)
    registry.start(); pair = registry.put(TargetPairSpec(...))
    opened = pair.open_stream(peer, generation)        # fences older streams
    durable = pair.receive(opened.session, batch)      # batch from agent.dataplane.decode_batch; ack `durable`

Process server::

    registry = SourceRegistry(PairStore(state_dir / "pairs", "process-server"), work_root=..., connector=...)
    registry.start(); registry.put(SourcePairSpec(...))  # each pair streams from its own thread

The gRPC servicers in agent.server translate the API to these calls.
"""

from agent.replication._convert import batch_from_proto, batch_to_proto
from agent.replication._remote import GrpcRemoteHashes
from agent.replication._source import Connector, SenderOptions, SourcePair, SourcePhase, SourceState, SourceStatus
from agent.replication._sources import SourceRegistry
from agent.replication._specs import SourceKind, SourcePairSpec, TargetPairSpec, check_pair_id, policy_from_dict
from agent.replication._store import PairStore
from agent.replication._stream import StreamSession
from agent.replication._target import StreamOpened, TargetPair, TargetState, TargetStatus, open_pair_journal
from agent.replication._targets import TargetRegistry

__all__ = [
    "Connector",
    "GrpcRemoteHashes",
    "PairStore",
    "SenderOptions",
    "SourceKind",
    "SourcePair",
    "SourcePairSpec",
    "SourcePhase",
    "SourceRegistry",
    "SourceState",
    "SourceStatus",
    "StreamOpened",
    "StreamSession",
    "TargetPair",
    "TargetPairSpec",
    "TargetRegistry",
    "TargetState",
    "TargetStatus",
    "batch_from_proto",
    "batch_to_proto",
    "check_pair_id",
    "open_pair_journal",
    "policy_from_dict",
]
