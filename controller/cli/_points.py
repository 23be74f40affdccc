"""``failbackctl points list|bring|cancel`` and ``failbackctl retention``: recovery points of replicating pairs,
through the controller.

``points bring`` holds a pair's target disk at a point (a test of the point: the disk shows the source as it was
at that bookmark; replication to it pauses) until ``points cancel`` returns it to latest. Refused while a workflow
has the VM (failing over, failed over...): use the workflows' own commands then.

JSON (times are RFC 3339 UTC, ``timestamp`` the same in seconds since the epoch):

* pair: ``{"pair_id": str, "vm": str, "item_key": str, "item_state": str, "disk_index": int,
  "source_disk_id": str, "target_disk_id": str, "disk_size": int, "master_target": str, "generation": int,
  "group": str | null, "state": str, "reason": str | null}``;
* point: ``{"id": str, "kind": "crash" | "app" | "resync-complete", "time": str, "timestamp": float, "seq": int,
  "tag": str | null, "group": str | null, "history_bytes": int, "pending": bool}``;
* ``points list``: ``{"pairs": [{"pair": pair, "points": [point, ...]}]}``, points oldest first;
* ``points bring`` / ``points cancel``: ``{"pair": pair, "point": point | null, "held": bool}``;
* ``retention``: ``{"master_targets": [{"name": str, "address": str, "error": str | null, "volumes":
  [{"mountpoint": str, "device": str, "fstype": str, "capacity_bytes": int, "used_bytes": int, "free_bytes": int,
  "used_pct": float, "threshold_pct": float, "eligible": bool, "reasons": [str]}]}], "pairs": [{"pair": pair,
  "points": int, "oldest": point | null, "newest": point | null, "rpo_seconds": float | null,
  "rpo_threshold_seconds": float, "rpo_ok": bool | null, "health": "ok" | "warning" | "error" | "unknown",
  "health_reasons": [str], "error": str | null}]}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2

from controller.api.v1 import points_pb2, points_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, CtlConfig, UsageError, connect, load_ctl_config, rpc_error
from controller.cli._output import add_output_argument, emit, human_bytes
from failback.errors import TemporaryError

__all__ = ["register"]

T = TypeVar("T")

# The controller answered, a master target did not (points.proto).
_AGENT_UNAVAILABLE = ("failback-unavailable", "agent")
# Bringing a disk to a past point reads the churn since it from the journal.
_BRING_TIMEOUT = 3600.0
_FILTERS = {
    "app": points_pb2.POINT_FILTER_APP,
    "crash": points_pb2.POINT_FILTER_CRASH,
    "group": points_pb2.POINT_FILTER_GROUP,
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    points = subparsers.add_parser("points", help="recovery points of replicating pairs: list, bring a disk, cancel")
    actions = points.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="the points of a VM's pairs, or of one pair, oldest first")
    subject = listing.add_mutually_exclusive_group(required=True)
    subject.add_argument("--vm", help="a protected VM's name (as 'failbackctl items' shows it)")
    subject.add_argument("--pair", help="a pair id")
    listing.add_argument("--kind", choices=sorted(_FILTERS), help="only application, crash or group points")
    add_output_argument(listing)
    listing.set_defaults(handler=_list)

    bring = actions.add_parser("bring", help="hold a pair's target disk at a point (replication pauses)")
    bring.add_argument("--pair", required=True)
    point = bring.add_mutually_exclusive_group(required=True)
    point.add_argument("--point", help="a point id, as 'points list' shows it")
    point.add_argument("--latest", action="store_true", help="everything the master target acknowledged")
    point.add_argument("--latest-app", action="store_true", help="the newest application-consistent point")
    point.add_argument("--time", help="the newest point at or before this ISO 8601 time with a zone (…Z)")
    add_output_argument(bring)
    bring.set_defaults(handler=_bring)

    cancel = actions.add_parser("cancel", help="return a pair's target disk to latest; replication resumes")
    cancel.add_argument("--pair", required=True)
    add_output_argument(cancel)
    cancel.set_defaults(handler=_cancel)

    retention = subparsers.add_parser("retention", help="retention volumes of the master targets, and RPO health")
    add_output_argument(retention)
    retention.set_defaults(handler=_retention)


def _call(config: CtlConfig, rpc: Callable[[points_pb2_grpc.PointsStub], T]) -> T:
    with connect(config) as channel:
        try:
            return rpc(points_pb2_grpc.PointsStub(channel))
        except grpc.RpcError as exc:
            metadata = {m.key: m.value for m in exc.trailing_metadata() or ()}
            key, value = _AGENT_UNAVAILABLE
            if exc.code() == grpc.StatusCode.UNAVAILABLE and metadata.get(key) in (value, value.encode()):
                raise TemporaryError(exc.details() or "a master target does not answer") from exc
            raise rpc_error(exc, config) from exc


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def _pair(message: points_pb2.PairRef) -> dict[str, Any]:
    return {
        "pair_id": message.pair_id,
        "vm": message.vm,
        "item_key": message.item_key,
        "item_state": message.item_state,
        "disk_index": message.disk_index,
        "source_disk_id": message.source_disk_id,
        "target_disk_id": message.target_disk_id,
        "disk_size": message.disk_size,
        "master_target": message.master_target,
        "generation": message.generation,
        "group": message.group or None,
        "state": message.state,
        "reason": message.reason or None,
    }


def _point(message: points_pb2.PointRecord) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind,
        "time": _time(message.time),
        "timestamp": message.time,
        "seq": message.seq,
        "tag": message.tag or None,
        "group": message.group or None,
        "history_bytes": message.history_bytes,
        "pending": message.pending,
    }


def _list(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    request = points_pb2.ListPointsRequest(filter=_FILTERS.get(args.kind, points_pb2.POINT_FILTER_UNSPECIFIED))
    if args.pair:
        request.pair_id = args.pair
    else:
        request.vm = args.vm
    response = _call(config, lambda stub: stub.ListPoints(request, timeout=RPC_TIMEOUT))
    pairs: list[dict[str, Any]] = [
        {"pair": _pair(p.pair), "points": [_point(x) for x in p.points]} for p in response.pairs
    ]
    rows = [
        [
            p["pair"]["vm"],
            p["pair"]["pair_id"],
            p["pair"]["state"],
            x["id"],
            x["kind"],
            x["time"],
            x["tag"],
            human_bytes(x["history_bytes"]),
            "pending" if x["pending"] else "",
        ]
        for p in pairs
        for x in p["points"]
    ]
    emit(args, {"pairs": pairs}, ["VM", "PAIR", "STATE", "POINT", "KIND", "TIME", "TAG", "HISTORY", ""], rows)
    return 0


def _at_time(text: str) -> float:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--time {text!r} is not an ISO 8601 time (2026-11-25T22:10:00Z)") from exc
    if when.tzinfo is None:
        raise UsageError(f"--time {text!r} has no time zone: add Z for UTC, or an offset (+01:00)")
    return when.timestamp()


def _bring(args: argparse.Namespace) -> int:
    request = points_pb2.BringToPointRequest(pair_id=args.pair)
    if args.point:
        request.point_id = args.point
    elif args.latest:
        request.latest.CopyFrom(empty_pb2.Empty())
    elif args.latest_app:
        request.latest_app.CopyFrom(empty_pb2.Empty())
    else:
        request.at_time = _at_time(args.time)
    config = load_ctl_config(args.config)
    return _show(args, _call(config, lambda stub: stub.BringToPoint(request, timeout=_BRING_TIMEOUT)))


def _cancel(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    request = points_pb2.CancelPointRequest(pair_id=args.pair)
    return _show(args, _call(config, lambda stub: stub.CancelPoint(request, timeout=RPC_TIMEOUT)))


def _show(args: argparse.Namespace, reply: points_pb2.PairAtPoint) -> int:
    document: dict[str, Any] = {
        "pair": _pair(reply.pair),
        "point": _point(reply.point) if reply.HasField("point") else None,
        "held": reply.held,
    }
    point = document["point"]
    where = (
        f"{point['id']} ({point['kind']}, {point['time']})"
        if point
        else ("latest (held)" if reply.held else "latest (replicating)")
    )
    emit(
        args,
        document,
        ["VM", "PAIR", "STATE", "DISK AT", "VM STATE"],
        [[reply.pair.vm, reply.pair.pair_id, reply.pair.state, where, reply.pair.item_state]],
    )
    return 0


def _retention(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    report = _call(config, lambda stub: stub.GetRetention(points_pb2.GetRetentionRequest(), timeout=RPC_TIMEOUT))
    master_targets = [
        {
            "name": mt.name,
            "address": mt.address,
            "error": mt.error or None,
            "volumes": [
                {
                    "mountpoint": v.mountpoint,
                    "device": v.device,
                    "fstype": v.fstype,
                    "capacity_bytes": v.capacity_bytes,
                    "used_bytes": v.used_bytes,
                    "free_bytes": v.free_bytes,
                    "used_pct": v.used_pct,
                    "threshold_pct": v.threshold_pct,
                    "eligible": v.eligible,
                    "reasons": list(v.reasons),
                }
                for v in mt.volumes
            ],
        }
        for mt in report.master_targets
    ]
    pairs = []
    for p in report.pairs:
        rpo = p.rpo_seconds if p.HasField("rpo_seconds") else None
        threshold = p.rpo_threshold_seconds
        pairs.append(
            {
                "pair": _pair(p.pair),
                "points": p.points,
                "oldest": _point(p.oldest) if p.HasField("oldest") else None,
                "newest": _point(p.newest) if p.HasField("newest") else None,
                "rpo_seconds": rpo,
                "rpo_threshold_seconds": threshold,
                "rpo_ok": None if rpo is None or not threshold else rpo <= threshold,
                "health": p.health,
                "health_reasons": list(p.health_reasons),
                "error": p.error or None,
            }
        )
    document = {"master_targets": master_targets, "pairs": pairs}
    if args.output == "json":
        emit(args, document, [], [])
        return 0
    volume_rows = [
        [
            mt["name"],
            v["mountpoint"],
            v["fstype"],
            human_bytes(v["capacity_bytes"]),
            human_bytes(v["used_bytes"]),
            human_bytes(v["free_bytes"]),
            f"{v['used_pct']:.1f}% / {v['threshold_pct']:.0f}%",
            "yes" if v["eligible"] else "no: " + "; ".join(v["reasons"]),
        ]
        for mt in master_targets
        for v in mt["volumes"]
    ] + [[mt["name"], "-", "", "", "", "", "", f"not asked: {mt['error']}"] for mt in master_targets if mt["error"]]
    emit(
        args,
        document,
        ["MASTER TARGET", "VOLUME", "FS", "SIZE", "USED", "FREE", "USE / LIMIT", "ELIGIBLE"],
        volume_rows,
    )
    print()
    pair_rows = [
        [
            p["pair"]["vm"],
            p["pair"]["pair_id"],
            p["pair"]["state"],
            p["points"],
            p["oldest"]["time"] if p["oldest"] else "",
            p["newest"]["time"] if p["newest"] else "",
            f"{p['rpo_seconds']:.0f} s / {p['rpo_threshold_seconds']:.0f} s" if p["rpo_seconds"] is not None else "",
            p["health"] if not p["health_reasons"] else f"{p['health']}: {'; '.join(p['health_reasons'])}",
            p["error"],
        ]
        for p in pairs
    ]
    emit(args, document, ["VM", "PAIR", "STATE", "POINTS", "OLDEST", "NEWEST", "RPO / LIMIT", "HEALTH", ""], pair_rows)
    return 0
