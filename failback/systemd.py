"""The sd_notify protocol, so our services can be ``Type=notify`` with a watchdog.

A datagram to ``$NOTIFY_SOCKET`` (a path, or an abstract socket when it starts with ``@``). Without the variable
(not under systemd) every call is a no-op. Errors sending are swallowed on purpose: a service must not die because
its supervisor went away, and systemd notices a missing watchdog ping by itself.
"""

from __future__ import annotations

import os
import socket

__all__ = ["notify", "watchdog_interval"]


def notify(*states: str) -> bool:
    """Send ``READY=1``, ``STOPPING=1``, ``WATCHDOG=1``, ``STATUS=...``; True when a supervisor was told."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(states).encode(), address)
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of ``WatchdogSec``), or None when no watchdog is set for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None
