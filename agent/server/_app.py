"""Assembling a running agent: identity upkeep, the mutual-TLS server, health, metrics, and the replication pairs
of its role (master target: receive side and recovery points; process server: senders)."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import threading
import time

import grpc
from grpc_health.v1 import health_pb2
from prometheus_client import CollectorRegistry, Gauge

from agent.api.v1 import agent_pb2_grpc, disks_pb2_grpc, pairs_pb2_grpc, points_pb2_grpc, replication_pb2_grpc
from agent.discovery import DiskDiscovery, open_discovery
from agent.discovery.errors import DiscoveryError
from agent.replication import (
    PairStore,
    SenderOptions,
    SnapshotGroups,
    SourceRegistry,
    TargetPair,
    TargetPairSpec,
    TargetRegistry,
)
from agent.replication.errors import InvalidPair
from agent.retention import RetentionVolumes
from agent.server._azure import azure_access
from agent.server._config import AgentConfig
from agent.server._disks import DisksServicer
from agent.server._info import AgentInfoServicer
from agent.server._pair_metrics import SourcePairMetrics, TargetPairMetrics
from agent.server._pairs import SourcePairsServicer, TargetPairsServicer
from agent.server._points import RecoveryPointsServicer
from agent.server._replication import ReplicationServicer
from agent.trust import CertificateKeeper, Heartbeat, Registration, StatusReport
from controller.api.v1 import agents_pb2
from failback.identity import Identity, Role
from failback.serving import (
    AccessPolicy,
    GrpcServer,
    ServiceBinding,
    run_until_signalled,
    secure_channel,
    start_metrics,
)

__all__ = ["POLICY", "AgentApp", "pair_health_name"]

log = logging.getLogger(__name__)

_CONTROLLER = frozenset({Role.CONTROLLER})
POLICY = AccessPolicy(
    {
        "failback.agent.v1.Agent": _CONTROLLER,
        "failback.agent.v1.Disks": _CONTROLLER,
        "failback.agent.v1.TargetPairs": _CONTROLLER,
        "failback.agent.v1.SourcePairs": _CONTROLLER,
        "failback.agent.v1.RecoveryPoints": _CONTROLLER,
        # The block stream, resync hashes and digests: process servers only, each for its own pairs (checked by
        # the servicer against the pair's sender before any I/O).
        "failback.agent.v1.Replication": frozenset({Role.PROCESS_SERVER}),
    }
)


def pair_health_name(pair_id: str) -> str:
    """The health service name of a pair on a master target: NOT_SERVING while it needs attention."""
    return f"failback.agent.v1.Pair/{pair_id}"


class _Connector:
    """Channels to master targets with the agent's current identity (a renewed certificate is used from the next
    connection on)."""

    def __init__(self, keeper: CertificateKeeper) -> None:
        self._keeper = keeper

    def channel(self, address: str, peer: Identity) -> grpc.Channel:
        return secure_channel(address, self._keeper.tls, peer)


class AgentApp:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        registration = Registration.load(config.state_dir)
        if config.controller_address:
            registration = dataclasses.replace(registration, controller_address=config.controller_address)
        self.registration = registration
        self.keeper = CertificateKeeper(config.state_dir, self.registration, check_interval=config.check_interval)
        self.heartbeat = Heartbeat(self.keeper, self.registration, self.status_report)
        self.registry = CollectorRegistry()
        self._certificate_expiry = Gauge(
            "failback_agent_certificate_expiry_timestamp_seconds",
            "When the agent's certificate expires (Unix time)",
            registry=self.registry,
        )
        services = [
            ServiceBinding(
                "failback.agent.v1.Agent",
                agent_pb2_grpc.add_AgentServicer_to_server,
                AgentInfoServicer(lambda: self.keeper.tls),
            )
        ]
        self.discovery: DiskDiscovery | None = None
        self.targets: TargetRegistry | None = None
        self.sources: SourceRegistry | None = None
        self._replication: ReplicationServicer | None = None
        self._throughput_sample: tuple[float, int] | None = None
        replication = config.replication
        pairs_dir = config.state_dir / "pairs"
        if self.registration.identity.role is Role.PROCESS_SERVER:
            access = azure_access(config.azure) if config.azure is not None else None
            groups = SnapshotGroups(access, state_dir=str(config.state_dir / "snapshots"))
            self.sources = SourceRegistry(
                PairStore(pairs_dir, Role.PROCESS_SERVER.value),
                work_root=str(config.state_dir / "send"),
                connector=_Connector(self.keeper),
                options=SenderOptions(window_bytes=replication.window_bytes, send_log=replication.send_log),
                bandwidth=replication.bandwidth,
                encode_threads=replication.encode_threads,
                groups=groups,
            )
            self.registry.register(SourcePairMetrics(self.sources))
            services.append(
                ServiceBinding(
                    "failback.agent.v1.SourcePairs",
                    pairs_pb2_grpc.add_SourcePairsServicer_to_server,
                    SourcePairsServicer(self.sources, azure=access),
                )
            )
        if self.registration.identity.role is Role.MASTER_TARGET:
            self.discovery = open_discovery(
                agent_dir=str(config.state_dir), sysfs_root=config.sysfs_root, dev_root=config.dev_root
            )
            self._disks = Gauge(
                "failback_agent_disks", "Disks the master target sees, by state", ["state"], registry=self.registry
            )
            self._slots_free = Gauge(
                "failback_agent_disk_slots_free", "Disks that can still be attached (limit 60)", registry=self.registry
            )
            services.append(
                ServiceBinding(
                    "failback.agent.v1.Disks", disks_pb2_grpc.add_DisksServicer_to_server, DisksServicer(self.discovery)
                )
            )
            self.targets = TargetRegistry(
                PairStore(pairs_dir, Role.MASTER_TARGET.value),
                resolve_target=self._resolve_target,
                check_retention_dir=self._check_retention_dir,
                on_change=self._pair_changed,
                on_remove=self._pair_removed,
            )
            self.registry.register(TargetPairMetrics(self.targets))
            self._replication = ReplicationServicer(self.targets, decode_threads=replication.decode_threads)
            services += [
                ServiceBinding(
                    "failback.agent.v1.Replication",
                    replication_pb2_grpc.add_ReplicationServicer_to_server,
                    self._replication,
                ),
                ServiceBinding(
                    "failback.agent.v1.TargetPairs",
                    pairs_pb2_grpc.add_TargetPairsServicer_to_server,
                    TargetPairsServicer(self.targets),
                ),
                ServiceBinding(
                    "failback.agent.v1.RecoveryPoints",
                    points_pb2_grpc.add_RecoveryPointsServicer_to_server,
                    RecoveryPointsServicer(
                        self.targets,
                        self._retention_volumes,
                        check_volumes=self.config.replication.check_retention_volume,
                    ),
                ),
            ]
        self.server = GrpcServer(
            listen=config.listen,
            tls=self.keeper.tls,
            policy=POLICY,
            is_revoked=self.keeper.is_revoked,
            max_workers=config.max_workers,
            services=services,
        )

    # -- replication pairs -------------------------------------------------------------------------------------------

    def _resolve_target(self, spec: TargetPairSpec) -> str:
        if spec.path is not None:
            if not self.config.replication.allow_path_targets:
                raise InvalidPair(
                    f"pair {spec.pair_id}: this agent does not accept target paths",
                    remedy="name the target by its disk_id; paths are for labs and tests ([replication] "
                    "allow_path_targets = true)",
                )
            if not os.path.exists(spec.path):
                raise InvalidPair(f"pair {spec.pair_id}: the target {spec.path} does not exist")
            return spec.path
        assert spec.disk_id is not None
        assert self.discovery is not None
        return self.discovery.resolve(spec.disk_id).path

    def _retention_volumes(self) -> RetentionVolumes:
        targets = [pair.target_path for pair in (self.targets.pairs() if self.targets else []) if pair.target_path]
        return RetentionVolumes(agent_paths=(str(self.config.state_dir), os.path.dirname(os.__file__)), targets=targets)

    def _check_retention_dir(self, path: str) -> None:
        if not self.config.replication.check_retention_volume:
            return
        volumes = self._retention_volumes()
        real = os.path.realpath(path)
        mounts = [report.mountpoint for report in volumes.reports()]
        inside = [m for m in mounts if real == m or real.startswith(m.rstrip("/") + "/")]
        if not inside:
            raise InvalidPair(f"retention_dir {path} is on no mounted volume")
        volumes.require(max(inside, key=len))

    def _pair_changed(self, pair: TargetPair) -> None:
        self.server.set_serving(pair.status().serving, pair_health_name(pair.spec.pair_id))

    def _pair_removed(self, pair_id: str) -> None:
        self.server.health.set(pair_health_name(pair_id), health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)

    def _stop_pairs(self) -> None:
        if self.sources is not None:
            self.sources.close()
        if self.targets is not None:
            self.targets.close()
        if self._replication is not None:
            self._replication.close()

    def problems(self) -> list[str]:
        """Why the agent cannot do its job right now; empty when healthy."""
        found = []
        if not self.keeper.certificate_valid():
            found.append(f"the certificate expired at {self.keeper.tls.not_after} and could not be renewed")
        if not os.access(self.config.state_dir, os.W_OK):
            found.append(f"the state directory {self.config.state_dir} is not writable")
        for registry in (self.targets, self.sources):
            if registry is not None:
                found.extend(registry.problems)
        return found

    def status_report(self) -> StatusReport:
        """What the heartbeat tells the controller: disk slots and retention volumes (master target), backlog,
        throughput and pairs (process server)."""
        problems = self.problems()
        if self.discovery is None:
            return StatusReport(problems, process_server=self._sender_capacity())
        capacity = agents_pb2.MasterTargetCapacity()
        if self.targets is not None:
            for directory in sorted({pair.spec.retention_dir for pair in self.targets.pairs()}):
                try:
                    usage = shutil.disk_usage(directory)
                except OSError as exc:
                    problems.append(f"retention directory {directory}: {exc.strerror}")
                    continue
                capacity.retention_volumes.add(path=directory, capacity_bytes=usage.total, free_bytes=usage.free)
        try:
            slots = self.discovery.list_disks().capacity()
        except DiscoveryError as exc:
            problems.append(f"cannot list disks: {exc}")
        else:
            capacity.attached_disks = slots.attached
            capacity.disk_limit = slots.limit
        return StatusReport(problems, master_target=capacity)

    def _sender_capacity(self) -> agents_pb2.ProcessServerCapacity:
        capacity = agents_pb2.ProcessServerCapacity()
        if self.sources is None:
            return capacity
        statuses = [pair.status() for pair in self.sources.pairs()]
        acknowledged = sum(status.progress.plain_bytes_acknowledged for status in statuses)
        now = time.monotonic()
        previous, self._throughput_sample = self._throughput_sample, (now, acknowledged)
        if previous is not None and now > previous[0] and acknowledged >= previous[1]:
            capacity.throughput_bytes_per_second = int((acknowledged - previous[1]) / (now - previous[0]))
        capacity.backlog_bytes = sum(status.progress.backlog_bytes for status in statuses)
        capacity.replicating_disks = len(statuses)
        return capacity

    def _update_disk_metrics(self) -> None:
        if self.discovery is None:
            return
        try:
            inventory = self.discovery.list_disks()
        except DiscoveryError as exc:
            log.warning("cannot list disks for metrics: %s", exc)
            return
        for state, count in inventory.counts().to_dict().items():
            self._disks.labels(state).set(count)
        self._slots_free.set(inventory.capacity().free)

    def _healthy(self) -> bool:
        self._certificate_expiry.set(self.keeper.tls.not_after.timestamp())
        self._update_disk_metrics()
        problems = self.problems()
        for problem in problems:
            log.error("not serving: %s", problem)
        self.server.set_serving(not problems)
        return not problems

    def serve(self, stop: threading.Event | None = None) -> int:
        metrics_server, metrics_port = start_metrics(self.config.metrics_listen, self.registry)
        log.info("metrics on %s:%d", self.config.metrics_listen.host, metrics_port)
        self.keeper.start()
        self.heartbeat.start()
        identity = self.registration.identity
        if self.targets is not None:
            self.targets.start()
        if self.sources is not None:
            self.sources.start()

        def on_stop() -> None:
            self._stop_pairs()
            self._stop_upkeep()

        try:
            return run_until_signalled(
                [self.server],
                drain_seconds=self.config.drain_seconds,
                healthy=self._healthy,
                status=(
                    f"{identity} serving on {self.server.bound} "
                    f"metrics {self.config.metrics_listen.host}:{metrics_port}"
                ),
                on_stop=on_stop,
                stop=stop,
            )
        finally:
            metrics_server.shutdown()  # type: ignore[attr-defined]

    def _stop_upkeep(self) -> None:
        self.heartbeat.stop()
        self.keeper.stop()
