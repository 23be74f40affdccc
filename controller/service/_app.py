"""Assembling the controller: CA, store, credential key, job runner, its own TLS identity, the two listeners,
metrics."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from pathlib import Path

import grpc
from cryptography.hazmat.primitives import serialization
from prometheus_client import CollectorRegistry, Gauge

from controller.agents import GrpcAgents
from controller.api.v1 import (
    agents_pb2_grpc,
    backup_pb2_grpc,
    controller_pb2_grpc,
    doctor_pb2_grpc,
    inventory_pb2_grpc,
    jobs_pb2_grpc,
    points_pb2_grpc,
    registration_pb2_grpc,
    workflows_pb2_grpc,
)
from controller.ca import CertificateAuthority
from controller.doctor import ControllerFacts, Doctor, DoctorDeps, vault_opener, vcenter_opener, with_preflight
from controller.inventory import Readers, SourceCatalog, refresh_job_types
from controller.jobs import JobRegistry, JobRunner, Jobs, JobType, RunnerSettings
from controller.points import PointsDesk
from controller.secrets import KEY_FILE, SecretBox
from controller.service._backup_servicer import BackupServicer
from controller.service._config import ControllerConfig
from controller.service._doctor_servicer import DoctorServicer
from controller.service._faults import crash_hook
from controller.service._fleet_servicers import AgentStatusServicer, ServersServicer
from controller.service._inventory_servicers import InventoryServicer, SourcesServicer
from controller.service._jobs_servicer import JobsServicer
from controller.service._points_servicer import PointsServicer
from controller.service._ratelimit import FailureLimiter
from controller.service._replica import ReplicaLock
from controller.service._servicers import POLICY, CertificatesServicer, EnrollmentServicer, RegistrationServicer
from controller.service._workflows_servicer import FailbackServicer
from controller.store import AgentStatusStore, Database, Enrollment, InventoryStore, JobStore, ProtectionStore, Sources
from controller.workflows import Deps, import_vault, job_types
from failback import __version__
from failback.identity import Identity, Role
from failback.pki import generate_key, key_pem
from failback.serving import (
    GrpcServer,
    ServiceBinding,
    TlsIdentity,
    load_tls_identity,
    run_until_signalled,
    start_metrics,
)

__all__ = ["ControllerApp", "issue_operator_identity", "workflow_job_types"]

log = logging.getLogger(__name__)

# The controller's own certificate is re-issued at start when less than this remains.
_OWN_RENEW_BEFORE = dt.timedelta(days=30)
_OWN_LIFETIME = dt.timedelta(days=365)
# A doctor run reads every source in parallel within this; each request to a source has a third of it.
_DOCTOR_DEADLINE = 30.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def workflow_job_types(deps: Deps, doctor: Doctor) -> list[JobType]:
    """The workflow job types exactly as the controller registers them: reprotect and failover start with the
    doctor's preflight. Declaring only captures ``deps`` and ``doctor`` for later: no step runs here."""
    return with_preflight(job_types(deps), doctor, deps)


class ControllerApp:
    def __init__(self, config: ControllerConfig) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ca = CertificateAuthority.load_or_create(config.state_dir / "ca", name=config.name)
        self.database = Database.open(config.database_url)
        self.enrollment = Enrollment(self.database)
        self.agent_status = AgentStatusStore(self.database)
        self.secrets = SecretBox.load_or_create(config.state_dir / KEY_FILE)
        self.catalog = SourceCatalog(Sources(self.database), self.secrets)
        self.inventory = InventoryStore(self.database)
        self.protection = ProtectionStore(self.database)
        readers = Readers(config.state_dir / "trust")
        self.agents = GrpcAgents(lambda: self.tls)
        self.job_registry = JobRegistry(
            refresh_job_types(
                self.catalog,
                self.inventory,
                readers,
                after_import=lambda vault: import_vault(vault, self.inventory, self.protection, now=_utcnow()),
            )
        )
        deps = Deps(
            protection=self.protection,
            catalog=self.catalog,
            readers=readers,
            agents=self.agents,
            trust_dir=config.state_dir / "trust",
            controller_version=__version__,
        )
        # Set when it begins to serve: the doctor does not blame agents for heartbeats missed while it was down.
        self.started_at: dt.datetime | None = None
        self.doctor = self._doctor(deps)
        self.job_registry.register(*workflow_job_types(deps, self.doctor))
        for plugin in config.job_plugins:
            self.job_registry.load_plugin(plugin)
        self.replica = ReplicaLock.acquire(config.state_dir)
        self.runner = JobRunner(
            JobStore(self.database),
            self.job_registry,
            RunnerSettings(
                replica=self.replica.replica,
                workers=config.job_workers,
                lease=config.job_lease,
                poll_interval=config.job_poll_interval.total_seconds(),
                step_hook=crash_hook(),
            ),
        )
        self.jobs = Jobs(self.runner.store, self.job_registry, on_submit=self.runner.wake)
        self.tls = self._own_identity()
        self.registry = CollectorRegistry()
        self._agents_gauge = Gauge(
            "failback_controller_agents",
            "Registered agents by role and state",
            ["role", "state"],
            registry=self.registry,
        )
        self._agents_gauge_lock = threading.Lock()
        self.server = GrpcServer(
            listen=config.listen,
            tls=self.tls,
            policy=POLICY,
            is_revoked=self.enrollment.is_revoked,
            services=[
                ServiceBinding(
                    "failback.controller.v1.Certificates",
                    controller_pb2_grpc.add_CertificatesServicer_to_server,
                    CertificatesServicer(self.ca, self.enrollment, lifetime=config.agent_lifetime),
                ),
                ServiceBinding(
                    "failback.controller.v1.Enrollment",
                    controller_pb2_grpc.add_EnrollmentServicer_to_server,
                    EnrollmentServicer(self.ca, self.enrollment),
                ),
                ServiceBinding(
                    "failback.controller.v1.AgentStatus",
                    agents_pb2_grpc.add_AgentStatusServicer_to_server,
                    AgentStatusServicer(self.agent_status, interval=config.heartbeat_interval),
                ),
                ServiceBinding(
                    "failback.controller.v1.Servers",
                    agents_pb2_grpc.add_ServersServicer_to_server,
                    ServersServicer(self.enrollment, self.agent_status, stale_after=config.stale_after),
                ),
                ServiceBinding(
                    "failback.controller.v1.Jobs", jobs_pb2_grpc.add_JobsServicer_to_server, JobsServicer(self.jobs)
                ),
                ServiceBinding(
                    "failback.controller.v1.Sources",
                    inventory_pb2_grpc.add_SourcesServicer_to_server,
                    SourcesServicer(self.catalog, self.inventory, self.jobs),
                ),
                ServiceBinding(
                    "failback.controller.v1.Inventory",
                    inventory_pb2_grpc.add_InventoryServicer_to_server,
                    InventoryServicer(self.inventory),
                ),
                ServiceBinding(
                    "failback.controller.v1.Failback",
                    workflows_pb2_grpc.add_FailbackServicer_to_server,
                    FailbackServicer(self.protection, self.jobs),
                ),
                ServiceBinding(
                    "failback.controller.v1.Doctor",
                    doctor_pb2_grpc.add_DoctorServicer_to_server,
                    DoctorServicer(self.doctor),
                ),
                ServiceBinding(
                    "failback.controller.v1.Points",
                    points_pb2_grpc.add_PointsServicer_to_server,
                    PointsServicer(PointsDesk(self.protection, self.agents)),
                ),
                ServiceBinding(
                    "failback.controller.v1.Backup",
                    backup_pb2_grpc.add_BackupServicer_to_server,
                    BackupServicer(self.database, config.state_dir, controller_name=config.name),
                ),
            ],
        )
        self.registration_server = GrpcServer(
            listen=config.registration_listen,
            tls=None,
            policy=None,
            server_credentials=self._registration_credentials(),
            services=[
                ServiceBinding(
                    "failback.controller.v1.Registration",
                    registration_pb2_grpc.add_RegistrationServicer_to_server,
                    RegistrationServicer(
                        self.ca,
                        self.enrollment,
                        controller_name=config.name,
                        api_port=self.server.port,
                        lifetime=config.agent_lifetime,
                        limiter=FailureLimiter(),
                    ),
                )
            ],
            max_workers=8,
        )

    def _doctor(self, deps: Deps) -> Doctor:
        trust = self.config.state_dir / "trust"
        per_request = _DOCTOR_DEADLINE / 3
        return Doctor(
            DoctorDeps(
                workflows=deps,
                inventory=self.inventory,
                enrollment=self.enrollment,
                heartbeats=self.agent_status,
                controller=lambda: ControllerFacts(
                    __version__, self.tls.not_after, self.ca.certificate.not_valid_after_utc, self.started_at
                ),
                agents=GrpcAgents(lambda: self.tls, timeout=per_request),
                open_vcenter=vcenter_opener(self.catalog, trust, timeout=per_request),
                open_vault=vault_opener(self.catalog, trust, timeout=per_request),
                stale_after=self.config.stale_after,
                agent_lifetime=self.config.agent_lifetime,
                deadline=_DOCTOR_DEADLINE,
            )
        )

    @property
    def identity(self) -> Identity:
        return self.config.identity

    def _own_identity(self) -> TlsIdentity:
        directory = self.config.state_dir / "tls"
        try:
            current = load_tls_identity(directory, remedy="")
        except Exception:  # noqa: BLE001 - any problem with our own identity is fixed by issuing a new one
            current = None
        fresh_enough = current is not None and current.not_after - dt.datetime.now(dt.UTC) > _OWN_RENEW_BEFORE
        if current is not None and fresh_enough and current.ca_pem == self.ca.certificate_pem:
            return current
        key = generate_key()
        sans = {socket.gethostname(), "localhost", "127.0.0.1", "::1", *self.config.advertise}
        issued = self.ca.issue(self.identity, key.public_key(), lifetime=_OWN_LIFETIME, extra_sans=sorted(sans))
        TlsIdentity.save(directory, key_pem(key), issued.pem, self.ca.certificate_pem)
        log.info("issued the controller's own certificate, valid until %s", issued.not_after)
        return load_tls_identity(directory, remedy="")

    def _registration_credentials(self) -> grpc.ServerCredentials:
        # The chain includes the CA so that a joining agent can see it and compare it with the pinned fingerprint.
        chain = self.tls.certificate_pem + self.ca.certificate.public_bytes(serialization.Encoding.PEM)
        return grpc.ssl_server_credentials(
            [(self.tls.key_pem, chain)], root_certificates=None, require_client_auth=False
        )

    def update_metrics(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        for row in self.enrollment.agents():
            counts[(row.role, row.state)] = counts.get((row.role, row.state), 0) + 1
        with self._agents_gauge_lock:
            self._agents_gauge.clear()
            for (role, state), count in counts.items():
                self._agents_gauge.labels(role, state).set(count)

    def serve(self, stop: threading.Event | None = None) -> int:
        metrics_server, metrics_port = start_metrics(self.config.metrics_listen, self.registry)
        log.info("metrics on %s:%d", self.config.metrics_listen.host, metrics_port)
        self.update_metrics()
        self.started_at = _utcnow()
        self.runner.start()
        try:
            return run_until_signalled(
                [self.server, self.registration_server],
                drain_seconds=self.config.drain_seconds,
                healthy=self._healthy,
                status=(
                    f"serving on {self.server.bound} registration {self.registration_server.bound} "
                    f"metrics {self.config.metrics_listen.host}:{metrics_port} replica {self.replica.replica}"
                ),
                on_stop=lambda: self.runner.stop(timeout=self.config.drain_seconds),
                stop=stop,
            )
        finally:
            metrics_server.shutdown()  # type: ignore[attr-defined]
            self.database.close()
            self.replica.release()

    def _healthy(self) -> bool:
        try:
            self.update_metrics()
        except Exception:
            log.exception("the state store does not answer")
            self.server.set_serving(False)
            return False
        self.server.set_serving(True)
        return True


def issue_operator_identity(
    ca: CertificateAuthority, name: str, directory: Path, lifetime: dt.timedelta
) -> TlsIdentity:
    key = generate_key()
    issued = ca.issue(Identity(Role.OPERATOR, name), key.public_key(), lifetime=lifetime)
    TlsIdentity.save(directory, key_pem(key), issued.pem, ca.certificate_pem)
    return load_tls_identity(directory, remedy="")
