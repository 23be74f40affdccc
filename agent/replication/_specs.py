"""What a pair is, on each side: plain values, their checks, and their stored form.

A :class:`TargetPairSpec` (master target) and a :class:`SourcePairSpec` (process server) share the pair id and the
generation. Checking a spec never touches a disk; resolving the target disk and opening the journal come later.
"""

from __future__ import annotations

import enum
import math
import os
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from agent.journal import BLOCK_SIZE
from agent.replication.errors import InvalidPair
from agent.retention import RetentionPolicy
from failback.config import parse_address
from failback.identity import Identity, IdentityError, Role

__all__ = ["PAIR_ID", "SourceKind", "SourcePairSpec", "TargetPairSpec", "check_pair_id", "policy_from_dict"]

#: Pair ids name files and directories, so they are restricted to a safe alphabet.
PAIR_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_MAX_DISK = 1 << 50  # 1 PiB: anything larger is a unit mistake


class SourceKind(enum.IntEnum):
    """How the process server finds what to send (numbers as in the protobuf enum)."""

    SCAN = 1  #: one resync pass against the target, then done
    SCAN_THEN_CHANGE_LOG = 2  #: reprotect: note the change log position, resync pass, then the change log


def check_pair_id(pair_id: str) -> str:
    if not isinstance(pair_id, str) or PAIR_ID.fullmatch(pair_id) is None:
        raise InvalidPair(
            f"pair_id {pair_id!r} is not 1-64 lower-case letters, digits, '.', '_' or '-' starting with a letter or "
            "digit"
        )
    return pair_id


def _check_generation(generation: int) -> None:
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
        raise InvalidPair(f"generation must be a positive integer, got {generation!r}")


def _check_identity_name(field_name: str, name: str, role: Role) -> None:
    try:
        Identity(role, name)
    except IdentityError as exc:
        raise InvalidPair(f"{field_name}: {exc}") from exc


def _check_absolute(field_name: str, path: str) -> None:
    if not isinstance(path, str) or not os.path.isabs(path) or "\x00" in path:
        raise InvalidPair(f"{field_name} must be an absolute path, got {path!r}")


def policy_from_dict(data: dict[str, Any]) -> RetentionPolicy:
    """A policy from the stored or requested numbers; zero or absent numbers take the defaults."""
    defaults = RetentionPolicy()
    values: dict[str, Any] = {}
    for name in ("window", "crash_interval", "rpo_threshold", "threshold_pct"):
        value = data.get(name) or getattr(defaults, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise InvalidPair(f"policy {name} must be a positive number, got {value!r}")
        values[name] = float(value)
    values["shorten_when_full"] = bool(data.get("shorten_when_full", False))
    try:
        return replace(defaults, **values)
    except ValueError as exc:
        raise InvalidPair(f"policy: {exc}") from exc


def _policy_to_dict(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "window": policy.window,
        "crash_interval": policy.crash_interval,
        "rpo_threshold": policy.rpo_threshold,
        "threshold_pct": policy.threshold_pct,
        "shorten_when_full": policy.shorten_when_full,
    }


@dataclass(frozen=True)
class TargetPairSpec:
    """The master target's side of a pair. Exactly one of ``disk_id`` (resolved by discovery) and ``path``."""

    pair_id: str
    generation: int
    disk_size: int
    sender: str
    retention_dir: str
    disk_id: str | None = None
    path: str | None = None
    policy: RetentionPolicy = field(default_factory=RetentionPolicy)
    group: str | None = None

    def check(self) -> TargetPairSpec:
        check_pair_id(self.pair_id)
        _check_generation(self.generation)
        if (self.disk_id is None) == (self.path is None):
            raise InvalidPair(f"pair {self.pair_id}: give exactly one of the target's disk_id and path")
        if self.path is not None:
            _check_absolute("path", self.path)
        if self.disk_id is not None and not self.disk_id.strip():
            raise InvalidPair(f"pair {self.pair_id}: disk_id is empty")
        if (
            isinstance(self.disk_size, bool)
            or not isinstance(self.disk_size, int)
            or not 0 < self.disk_size <= _MAX_DISK
            or self.disk_size % BLOCK_SIZE
        ):
            raise InvalidPair(f"pair {self.pair_id}: disk_size must be a positive multiple of {BLOCK_SIZE} bytes")
        _check_identity_name("sender", self.sender, Role.PROCESS_SERVER)
        _check_absolute("retention_dir", self.retention_dir)
        if self.group is not None and _GROUP.fullmatch(self.group) is None:
            raise InvalidPair(f"pair {self.pair_id}: group {self.group!r} is not 1-128 letters, digits or ._:@-")
        return self

    @property
    def journal_dir(self) -> str:
        return os.path.join(self.retention_dir, self.pair_id)

    def same_disk(self, other: TargetPairSpec) -> bool:
        return (self.disk_id, self.path, self.disk_size, self.retention_dir) == (
            other.disk_id,
            other.path,
            other.disk_size,
            other.retention_dir,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["policy"] = _policy_to_dict(self.policy)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetPairSpec:
        try:
            values = dict(data)
            values["policy"] = policy_from_dict(values.get("policy") or {})
            return cls(**values).check()
        except TypeError as exc:
            raise InvalidPair(f"not a target pair record: {exc}") from exc


@dataclass(frozen=True)
class SourcePairSpec:
    """The process server's side of a pair."""

    pair_id: str
    generation: int
    source_path: str
    kind: SourceKind
    master_target_address: str
    master_target_name: str
    change_log_dir: str | None = None
    bandwidth: int | None = None  #: bytes per second for this pair alone; None: only the agent-wide limit

    def check(self) -> SourcePairSpec:
        check_pair_id(self.pair_id)
        _check_generation(self.generation)
        _check_absolute("source_path", self.source_path)
        try:
            kind = SourceKind(self.kind)
        except ValueError:
            raise InvalidPair(f"pair {self.pair_id}: kind must be SCAN or SCAN_THEN_CHANGE_LOG") from None
        if kind is SourceKind.SCAN_THEN_CHANGE_LOG:
            if self.change_log_dir is None:
                raise InvalidPair(f"pair {self.pair_id}: a SCAN_THEN_CHANGE_LOG pair needs change_log_dir")
            _check_absolute("change_log_dir", self.change_log_dir)
        try:
            parse_address(self.master_target_address, allow_zero_port=False)
        except ValueError as exc:
            raise InvalidPair(f"pair {self.pair_id}: master_target_address: {exc}") from exc
        _check_identity_name("master_target_name", self.master_target_name, Role.MASTER_TARGET)
        if self.bandwidth is not None and (isinstance(self.bandwidth, bool) or self.bandwidth <= 0):
            raise InvalidPair(f"pair {self.pair_id}: bandwidth must be positive bytes per second")
        return self

    @property
    def master_target(self) -> Identity:
        return Identity(Role.MASTER_TARGET, self.master_target_name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = int(self.kind)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourcePairSpec:
        try:
            values = dict(data)
            values["kind"] = SourceKind(values["kind"])
            return cls(**values).check()
        except (TypeError, KeyError, ValueError) as exc:
            raise InvalidPair(f"not a source pair record: {exc}") from exc
