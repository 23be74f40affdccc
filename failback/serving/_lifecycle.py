"""Running a service until SIGTERM: readiness, watchdog, draining. Shared by the agent and the controller."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from failback import systemd
from failback.serving._server import GrpcServer

__all__ = ["run_until_signalled"]

log = logging.getLogger(__name__)

# How often health is re-evaluated (and the watchdog pinged, if systemd asked for a shorter interval).
_HEALTH_INTERVAL = 10.0


def run_until_signalled(
    servers: list[GrpcServer],
    *,
    drain_seconds: float,
    healthy: Callable[[], bool],
    status: str,
    on_stop: Callable[[], None] = lambda: None,
    stop: threading.Event | None = None,
) -> int:
    """Start ``servers``, tell systemd READY=1 once every port accepts connections, ping the watchdog while
    ``healthy()``, and on SIGTERM/SIGINT drain within ``drain_seconds`` and return 0."""
    stop = stop or threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_until_accepting()
        healthy()
        systemd.notify("READY=1", f"STATUS={status}")
        log.info("ready: %s", status)
        watchdog = systemd.watchdog_interval()
        while not stop.wait(min(watchdog or _HEALTH_INTERVAL, _HEALTH_INTERVAL)):
            if healthy():
                if watchdog:
                    systemd.notify("WATCHDOG=1")
            else:
                # Withholding the ping lets systemd restart a service that stopped being able to do its job.
                log.error("unhealthy: withholding the watchdog ping")
        systemd.notify("STOPPING=1", "STATUS=draining")
        log.info("draining for up to %.0f s", drain_seconds)
        drainers = [threading.Thread(target=server.drain, args=(drain_seconds,)) for server in servers]
        for thread in drainers:
            thread.start()
        for thread in drainers:
            thread.join()
        on_stop()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
