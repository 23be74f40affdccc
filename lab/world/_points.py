"""What the lab's master target holds for each on-premises disk: its replication pair and recovery points, read from
the agent's own API (TargetPairs, RecoveryPoints) with the controller's credential, as the workflows read them.

Never changes anything on the agent; an agent that does not answer leaves ``replication`` null with the reason.
"""

from __future__ import annotations

import os
from typing import Any

import grpc

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc, points_pb2, points_pb2_grpc
from failback.diskid import InvalidDiskId, normalize_disk_id
from failback.errors import FailbackError
from failback.identity import Identity, Role
from failback.serving import load_tls_identity, secure_channel
from lab.world._layout import MASTER_TARGET, Layout, Record

__all__ = ["replication_by_disk"]

_TIMEOUT = 10.0
_STATES = {v.number: v.name.removeprefix("PAIR_STATE_").lower() for v in pairs_pb2.PairState.DESCRIPTOR.values}
_KINDS = {v.number: v.name.removeprefix("POINT_KIND_").lower() for v in points_pb2.PointKind.DESCRIPTOR.values}


def _normal(value: str) -> str | None:
    try:
        return normalize_disk_id(value)
    except InvalidDiskId:
        return None


def replication_by_disk(layout: Layout, record: Record) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Normalised disk id -> ``{"pair_id", "generation", "state", "journal", "points": [...]}`` for every pair of the
    master target, and None; or ``({}, why)`` when the agent cannot be asked."""
    agent = record.agents.get(MASTER_TARGET.name)
    if not agent:
        return {}, "the master target is not registered yet"
    try:
        tls = load_tls_identity(layout.controller / "state" / "tls", remedy="")
        with secure_channel(agent["address"], tls, Identity(Role.MASTER_TARGET, MASTER_TARGET.name)) as channel:
            return _read(channel), None
    except grpc.RpcError as exc:
        return {}, f"{MASTER_TARGET.name} did not answer: {exc.details() or exc.code().name}"
    except (FailbackError, OSError) as exc:
        return {}, f"{MASTER_TARGET.name} cannot be asked: {exc}"


def _read(channel: grpc.Channel) -> dict[str, dict[str, Any]]:
    pairs = pairs_pb2_grpc.TargetPairsStub(channel).ListPairs(pairs_pb2.ListPairsRequest(), timeout=_TIMEOUT).pairs
    points = points_pb2_grpc.RecoveryPointsStub(channel)
    found: dict[str, dict[str, Any]] = {}
    for status in pairs:
        pair = status.pair
        disk = _normal(pair.disk_id) if pair.WhichOneof("target") == "disk_id" else None
        if disk is None:
            continue
        try:
            listed = points.ListPoints(
                points_pb2.ListPointsRequest(target=points_pb2.PointTarget(pair_id=pair.pair_id)), timeout=_TIMEOUT
            ).points
        except grpc.RpcError:
            listed = []  # a pair without an open journal (failed, or its disk gone) has no points to list
        found[disk] = {
            "pair_id": pair.pair_id,
            "generation": pair.generation,
            "state": _STATES.get(status.state, "unknown"),
            "group": pair.group or None,
            "journal": os.path.join(pair.retention_dir, pair.pair_id),
            "points": [
                {
                    "id": p.id,
                    "kind": _KINDS.get(p.kind, "unknown"),
                    "tag": p.tag or None,
                    "group": p.group or None,
                    "time": p.time,
                    "seq": p.seq,
                    "history_bytes": p.history_bytes,
                }
                for p in listed
            ],
        }
    return found
