"""Per-pair Prometheus metrics, read from the registries at every scrape (no copies to keep in step).

Process server (label ``pair``): bytes sent (plain, wire), bytes acknowledged, backlog bytes and batches, lag
(age of the oldest unacknowledged write), resync progress, connected, reconnects. Master target: bytes received
(made durable), batches received / replayed / rejected, durable and applied sequence numbers, points, serving.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.replication import SourceRegistry, TargetRegistry

__all__ = ["SourcePairMetrics", "TargetPairMetrics"]


class SourcePairMetrics(Collector):
    def __init__(self, registry: SourceRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        sent = CounterMetricFamily("failback_pair_sent_bytes", "Plain source bytes sent", labels=["pair"])
        wire = CounterMetricFamily("failback_pair_sent_wire_bytes", "Compressed bytes put on the wire", labels=["pair"])
        acked = CounterMetricFamily(
            "failback_pair_acknowledged_bytes", "Plain bytes the master target made durable", labels=["pair"]
        )
        backlog = GaugeMetricFamily(
            "failback_pair_backlog_bytes", "Wire bytes sent or queued, not acknowledged", labels=["pair"]
        )
        batches = GaugeMetricFamily(
            "failback_pair_backlog_batches", "Batches sent or queued, not acknowledged", labels=["pair"]
        )
        lag = GaugeMetricFamily(
            "failback_pair_lag_seconds", "Age of the oldest write read and not yet acknowledged", labels=["pair"]
        )
        resync = GaugeMetricFamily("failback_pair_resync_percent", "Progress of the resync pass", labels=["pair"])
        connected = GaugeMetricFamily("failback_pair_connected", "1 while a stream is open", labels=["pair"])
        connects = CounterMetricFamily("failback_pair_connects", "Streams opened", labels=["pair"])
        state = GaugeMetricFamily("failback_pair_state", "PairState number (agent API)", labels=["pair"])
        for pair in self._registry.pairs():
            status = pair.status()
            progress = status.progress
            label = [status.spec.pair_id]
            sent.add_metric(label, progress.plain_bytes_sent)
            wire.add_metric(label, progress.wire_bytes_sent)
            acked.add_metric(label, progress.plain_bytes_acknowledged)
            backlog.add_metric(label, progress.backlog_bytes)
            batches.add_metric(label, progress.backlog_batches)
            lag.add_metric(label, progress.lag_seconds)
            if progress.resync_percent is not None:
                resync.add_metric(label, progress.resync_percent)
            connected.add_metric(label, 1.0 if status.connected else 0.0)
            connects.add_metric(label, status.connects)
            state.add_metric(label, int(status.state))
        yield from (sent, wire, acked, backlog, batches, lag, resync, connected, connects, state)


class TargetPairMetrics(Collector):
    def __init__(self, registry: TargetRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        received = CounterMetricFamily(
            "failback_pair_received_bytes", "Plain block bytes made durable", labels=["pair"]
        )
        batches = CounterMetricFamily("failback_pair_received_batches", "Batches made durable", labels=["pair"])
        replayed = CounterMetricFamily(
            "failback_pair_replayed_batches", "Batches at or below the watermark (ignored)", labels=["pair"]
        )
        rejected = CounterMetricFamily("failback_pair_rejected_batches", "Batches refused", labels=["pair"])
        durable = GaugeMetricFamily("failback_pair_durable_seq", "Durable (acknowledged) watermark", labels=["pair"])
        applied = GaugeMetricFamily("failback_pair_applied_seq", "Batches applied to the target", labels=["pair"])
        points = GaugeMetricFamily("failback_pair_points", "Recovery points held", labels=["pair"])
        serving = GaugeMetricFamily("failback_pair_serving", "1 unless the pair needs attention", labels=["pair"])
        state = GaugeMetricFamily("failback_pair_state", "PairState number (agent API)", labels=["pair"])
        for pair in self._registry.pairs():
            status = pair.status()
            label = [status.spec.pair_id]
            received.add_metric(label, status.bytes_received)
            batches.add_metric(label, status.batches_received)
            replayed.add_metric(label, status.batches_replayed)
            rejected.add_metric(label, status.batches_rejected)
            durable.add_metric(label, status.durable_seq)
            applied.add_metric(label, status.applied_seq)
            points.add_metric(label, status.points)
            serving.add_metric(label, 1.0 if status.serving else 0.0)
            state.add_metric(label, int(status.state))
        yield from (received, batches, replayed, rejected, durable, applied, points, serving, state)
