"""Settings of the snapshot source: how Azure is reached, and the pair's snapshot policy, checked against Azure's
documented limits before anything is created.

Azure's limits (sources in docs/azure-permissions.md): at most 7 incremental snapshots of a disk in 5 minutes and 500
at a time; SAS URIs for at most 5 snapshots of one disk's snapshot family at a time; crash-consistent VM restore
points at most once an hour, application-consistent ones once in 3 hours.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from agent.dataplane import BLOCK_SIZE
from agent.snapshots.errors import InvalidConfig
from failback.retry import Policy

__all__ = ["MIN_INTERVAL", "AzureConfig", "PointMode", "SnapshotPolicy"]


class PointMode(enum.Enum):
    """How a point in time is taken. SNAPSHOTS: an incremental snapshot of each disk (crash-consistent per disk).
    CRASH_RESTORE_POINTS / APP_RESTORE_POINTS: a VM restore point, consistent across the VM's disks (crash- or
    application-consistent)."""

    SNAPSHOTS = "incremental-snapshots"
    CRASH_RESTORE_POINTS = "CrashConsistent"
    APP_RESTORE_POINTS = "ApplicationConsistent"


#: Shortest interval per mode: Azure allows 7 incremental snapshots of a disk per 5 minutes (one per ~43 s; a minute
#: leaves room for the out-of-schedule snapshot a lost one needs), a crash-consistent restore point per hour and an
#: application-consistent one per 3 hours.
MIN_INTERVAL = {
    PointMode.SNAPSHOTS: 60.0,
    PointMode.CRASH_RESTORE_POINTS: 3600.0,
    PointMode.APP_RESTORE_POINTS: 3 * 3600.0,
}

# Kept per disk at most: the acknowledged point, the base of the cycle in flight, its point, and one taken ahead.
# Azure grants SAS URIs for at most 5 snapshots of one disk at a time; a cycle holds two.
_MIN_POINTS, _MAX_POINTS = 3, 5


@dataclass(frozen=True)
class SnapshotPolicy:
    """A pair's schedule. ``interval`` seconds between points (default 300: ASR's crash-consistent frequency);
    ``max_points`` kept per disk at most (a new point waits when a lagging pair still needs the older ones);
    ``sas_seconds`` each read grant lasts (it is renewed before it runs out); ``read_threads`` ranged GETs in
    flight; ``list_segment`` bytes of the disk per Get Page Ranges call (Azure can time out listing a fragmented
    disk in one call). ``min_interval`` replaces Azure's floor for the mode: for lab endpoints only (Azure refuses
    snapshots taken faster)."""

    interval: float = 300.0
    mode: PointMode = PointMode.SNAPSHOTS
    max_points: int = 4
    sas_seconds: int = 3600
    read_threads: int = 8
    max_block: int = 1 << 20
    list_segment: int = 256 << 30
    min_interval: float | None = None

    def __post_init__(self) -> None:
        floor = MIN_INTERVAL[self.mode] if self.min_interval is None else self.min_interval
        if not self.interval >= floor:
            raise InvalidConfig(
                f"snapshot interval {self.interval:g} s is below what Azure allows for {self.mode.value} ({floor:g} s)",
                remedy=f"set the pair's snapshot interval to at least {floor:g} s",
            )
        if not _MIN_POINTS <= self.max_points <= _MAX_POINTS:
            raise InvalidConfig(f"max_points must be {_MIN_POINTS}-{_MAX_POINTS}, not {self.max_points}")
        if not 300 <= self.sas_seconds <= 7 * 86400:
            raise InvalidConfig(f"sas_seconds must be 300-604800, not {self.sas_seconds}")
        if not 1 <= self.read_threads <= 64:
            raise InvalidConfig(f"read_threads must be 1-64, not {self.read_threads}")
        if self.max_block <= 0 or self.max_block % BLOCK_SIZE or self.max_block > 4 << 20:
            raise InvalidConfig(f"max_block must be a multiple of {BLOCK_SIZE} up to 4 MiB, not {self.max_block}")
        if self.list_segment <= 0 or self.list_segment % (1 << 20):
            raise InvalidConfig("list_segment must be a positive multiple of 1 MiB")


@dataclass(frozen=True)
class AzureConfig:
    """How Azure is reached. ``connection_verify`` is a CA bundle path or True (always passed explicitly: a preset
    REQUESTS_CA_BUNDLE must not decide). ``retry_total``/``retry_backoff_factor`` drive the SDKs' own per-request
    retries (azure-core's honours Retry-After on 429 and 5xx); ``call_policy`` bounds every Azure call and
    long-running operation and retries temporary failures until its deadline. ``polling_interval`` is the pause
    between operation polls when Azure sends no Retry-After."""

    base_url: str = "https://management.azure.com"
    connection_verify: str | bool = True
    polling_interval: float = 2.0
    retry_total: int = 3
    retry_backoff_factor: float = 0.8
    connection_timeout: float = 30.0
    read_timeout: float = 120.0
    call_policy: Policy = field(default_factory=lambda: Policy(deadline=600.0, initial=1.0, maximum=30.0))

    def __post_init__(self) -> None:
        if not self.base_url.startswith("https://"):
            raise InvalidConfig(
                f"base_url must be an https:// URL, not {self.base_url!r}",
                remedy="Azure's bearer-token policy refuses plain http",
            )
        if self.polling_interval < 0 or self.retry_total < 0 or self.retry_backoff_factor < 0:
            raise InvalidConfig("polling_interval, retry_total and retry_backoff_factor must not be negative")

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url.rstrip("/"),
            "connection_verify": self.connection_verify,
            "polling_interval": self.polling_interval,
            "retry_total": self.retry_total,
            "retry_backoff_factor": self.retry_backoff_factor,
            "connection_timeout": self.connection_timeout,
            "read_timeout": self.read_timeout,
        }
