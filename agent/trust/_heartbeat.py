"""Telling the controller this agent is alive: version, problems and capacity, on the controller's schedule.

The first heartbeat goes out at start; each answer says when to send the next one (bounded here, so a bad answer
cannot make the agent silent or noisy). A failed heartbeat is logged and retried after at most ``retry_interval`` (5 s):
a controller that restarts (an upgrade, a crash, a failover to another replica) sees its agents again within seconds,
instead of showing them stale for a whole interval and failing the preflight of the next job.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from agent.trust._keeper import CertificateKeeper
from agent.trust._registration import Registration
from agent.trust.errors import ControllerUnreachable, TrustError
from controller.api.v1 import agents_pb2, agents_pb2_grpc
from failback import __version__
from failback.serving import secure_channel

__all__ = ["Heartbeat", "StatusReport"]

log = logging.getLogger(__name__)

_RPC_TIMEOUT = 10.0
_MIN_INTERVAL = 1.0
_MAX_INTERVAL = 3600.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class StatusReport:
    """What the agent says about itself in a heartbeat; capacity figures it has not measured stay unset."""

    problems: list[str] = field(default_factory=list)
    master_target: agents_pb2.MasterTargetCapacity | None = None
    process_server: agents_pb2.ProcessServerCapacity | None = None


class Heartbeat:
    def __init__(
        self,
        keeper: CertificateKeeper,
        registration: Registration,
        report: Callable[[], StatusReport],
        *,
        interval: float = 30.0,
        retry_interval: float = 5.0,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._keeper = keeper
        self._registration = registration
        self._report = report
        self._clock = clock
        self.interval = interval
        self.retry_interval = retry_interval
        self.started_at = clock()
        self.last_error: str | None = None
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> agents_pb2.HeartbeatResponse:
        """Send one heartbeat; adopts the interval the controller answers with."""
        report = self._report()
        request = agents_pb2.HeartbeatRequest(version=__version__, problems=report.problems)
        request.sent_at.FromDatetime(self._clock())
        request.started_at.FromDatetime(self.started_at)
        # SetInParent marks the role's capacity as present even when no figure is measured yet.
        if report.master_target is not None:
            request.master_target.SetInParent()
            request.master_target.MergeFrom(report.master_target)
        elif report.process_server is not None:
            request.process_server.SetInParent()
            request.process_server.MergeFrom(report.process_server)
        registration = self._registration
        with secure_channel(registration.controller_address, self._keeper.tls, registration.controller) as channel:
            try:
                response: agents_pb2.HeartbeatResponse = agents_pb2_grpc.AgentStatusStub(channel).Heartbeat(
                    request, timeout=_RPC_TIMEOUT
                )
            except grpc.RpcError as exc:
                if exc.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
                    raise TrustError(f"the controller refused this agent's heartbeat: {exc.details()}") from exc
                raise ControllerUnreachable(
                    f"the controller at {registration.controller_address} did not take the heartbeat: {exc.details()}"
                ) from exc
        if response.interval_seconds:
            self.interval = min(max(float(response.interval_seconds), _MIN_INTERVAL), _MAX_INTERVAL)
        self.sent += 1
        return response

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.wait(delay):
            try:
                self.beat()
                self.last_error = None
                delay = self.interval
            except (TrustError, ControllerUnreachable) as exc:
                delay = min(self.interval, self.retry_interval)
                if self.last_error != str(exc):
                    log.warning("heartbeat failed (retrying every %.0f s): %s", delay, exc)
                self.last_error = str(exc)
