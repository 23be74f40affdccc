"""Assembling a running agent: identity upkeep, the mutual-TLS server, health, metrics."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading

from prometheus_client import CollectorRegistry, Gauge

from agent.api.v1 import agent_pb2_grpc, disks_pb2_grpc
from agent.discovery import DiskDiscovery, open_discovery
from agent.discovery.errors import DiscoveryError
from agent.server._config import AgentConfig
from agent.server._disks import DisksServicer
from agent.server._info import AgentInfoServicer
from agent.trust import CertificateKeeper, Heartbeat, Registration, StatusReport
from controller.api.v1 import agents_pb2
from failback.identity import Role
from failback.serving import AccessPolicy, GrpcServer, ServiceBinding, run_until_signalled, start_metrics

__all__ = ["POLICY", "AgentApp"]

log = logging.getLogger(__name__)

_CONTROLLER = frozenset({Role.CONTROLLER})
POLICY = AccessPolicy({"failback.agent.v1.Agent": _CONTROLLER, "failback.agent.v1.Disks": _CONTROLLER})


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
        self.server = GrpcServer(
            listen=config.listen,
            tls=self.keeper.tls,
            policy=POLICY,
            is_revoked=self.keeper.is_revoked,
            max_workers=config.max_workers,
            services=services,
        )

    def problems(self) -> list[str]:
        """Why the agent cannot do its job right now; empty when healthy."""
        found = []
        if not self.keeper.certificate_valid():
            found.append(f"the certificate expired at {self.keeper.tls.not_after} and could not be renewed")
        if not os.access(self.config.state_dir, os.W_OK):
            found.append(f"the state directory {self.config.state_dir} is not writable")
        return found

    def status_report(self) -> StatusReport:
        """What the heartbeat tells the controller. Retention and backlog figures come with the data path."""
        problems = self.problems()
        if self.discovery is None:
            return StatusReport(problems, process_server=agents_pb2.ProcessServerCapacity())
        capacity = agents_pb2.MasterTargetCapacity()
        try:
            slots = self.discovery.list_disks().capacity()
        except DiscoveryError as exc:
            problems.append(f"cannot list disks: {exc}")
        else:
            capacity.attached_disks = slots.attached
            capacity.disk_limit = slots.limit
        return StatusReport(problems, master_target=capacity)

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
        try:
            return run_until_signalled(
                [self.server],
                drain_seconds=self.config.drain_seconds,
                healthy=self._healthy,
                status=(
                    f"{identity} serving on {self.server.bound} "
                    f"metrics {self.config.metrics_listen.host}:{metrics_port}"
                ),
                on_stop=self._stop_upkeep,
                stop=stop,
            )
        finally:
            metrics_server.shutdown()  # type: ignore[attr-defined]

    def _stop_upkeep(self) -> None:
        self.heartbeat.stop()
        self.keeper.stop()
