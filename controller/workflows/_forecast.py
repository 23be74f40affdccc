"""Sync progress and the RPO to expect once it is done, from what the process servers measured. Pure.

During the initial sync (or a delta resync) the ETA is the bytes left over the measured plain throughput. The RPO
forecast is for continuous replication afterwards: every ``point_interval`` a point closes over the writes made in
it; those writes, compressed, must cross the link before the point exists on the master target. When the compressed
churn exceeds the link's measured wire throughput, the backlog grows without bound and no RPO can be promised.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SyncForecast", "forecast"]


@dataclass(frozen=True)
class SyncForecast:
    bytes_done: int
    bytes_total: int
    plain_bytes_per_second: float | None
    eta_seconds: float | None
    compression_ratio: float | None  # plain / wire
    churn_bytes_per_second: float | None
    rpo_seconds: float | None  # None: not enough measurements, or not sustainable
    sustainable: bool | None
    note: str

    def to_json(self) -> dict[str, object]:
        return dict(vars(self))


def forecast(
    *,
    bytes_done: int,
    bytes_total: int,
    elapsed_seconds: float,
    plain_sent: int,
    wire_sent: int,
    churn_bytes_per_second: float | None,
    point_interval: float = 30.0,
) -> SyncForecast:
    rate = plain_sent / elapsed_seconds if elapsed_seconds > 0 and plain_sent > 0 else None
    wire_rate = wire_sent / elapsed_seconds if elapsed_seconds > 0 and wire_sent > 0 else None
    ratio = plain_sent / wire_sent if wire_sent > 0 and plain_sent > 0 else None
    left = max(bytes_total - bytes_done, 0)
    eta = 0.0 if left == 0 else (left / rate if rate else None)
    if churn_bytes_per_second is None or wire_rate is None or ratio is None:
        return SyncForecast(
            bytes_done,
            bytes_total,
            rate,
            eta,
            ratio,
            churn_bytes_per_second,
            None,
            None,
            "no RPO forecast until the process server has measured throughput and churn",
        )
    churn_wire = churn_bytes_per_second / ratio
    if churn_wire >= wire_rate:
        note = (
            f"not sustainable: {churn_wire / 1e6:.1f} MB/s of compressed churn against {wire_rate / 1e6:.1f} MB/s "
            "measured on the link; raise the bandwidth limit or reduce churn"
        )
        return SyncForecast(bytes_done, bytes_total, rate, eta, ratio, churn_bytes_per_second, None, False, note)
    # A point's writes reach the master target one transfer time after the interval closes; with queueing (M/D/1
    # style) the transfer stretches as utilisation approaches 1.
    utilisation = churn_wire / wire_rate
    transfer = (churn_wire * point_interval / wire_rate) / (1 - utilisation)
    rpo = point_interval + transfer
    note = f"about {rpo:.0f} s with points every {point_interval:.0f} s at {utilisation:.0%} link use"
    return SyncForecast(bytes_done, bytes_total, rate, eta, ratio, churn_bytes_per_second, rpo, True, note)
