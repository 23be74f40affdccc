"""Restart the lab's controller on the addresses it had, so failbackctl and the agents keep reaching it: after it
crashed (a crash test kills it on purpose) or to change its environment (fault injection: ``FAILBACK_CRASH_AT``).

The first start bound port 0; a restart binds the ports that start was given, recorded in ``lab.json``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from failback.retry import Policy
from lab.world._layout import Layout, read_record
from lab.world._procs import Proc, alive, python_env, start, stop
from lab.world.errors import LabError

__all__ = ["controller_proc", "restart_controller", "wait_controller_gone"]

_READY = 60.0


def controller_proc(layout: Layout) -> Proc:
    record = read_record(layout)
    found = [Proc.from_dict(p) for p in record.processes if p["name"] == "controller"]
    if not found:
        raise LabError(f"the lab in {layout.root} has no controller")
    return found[-1]


def wait_controller_gone(layout: Layout, *, deadline: float = 120.0) -> None:
    """Wait until the controller process has exited (it was told to kill itself at some point)."""
    proc = controller_proc(layout)
    Policy(deadline=deadline, initial=0.05, maximum=0.2).wait_for(
        lambda: True if not alive(proc) else None, what="the lab's controller to exit"
    )


def restart_controller(layout: Layout, *, env: Mapping[str, str] | None = None) -> Proc:
    """Stop the controller if it runs, start it again with ``env`` added to its environment; returns the new one."""
    record = read_record(layout)
    old = controller_proc(layout)
    stop(old)
    config = layout.controller / "controller.toml"
    text = config.read_text()
    text = re.sub(r'(?m)^listen = ".*"$', f'listen = "{record.controller["api"]}"', text, count=1)
    text = re.sub(
        r'(?m)^registration_listen = ".*"$', f'registration_listen = "{record.controller["registration"]}"', text
    )
    config.write_text(text)
    argv = [sys.executable, "-m", "controller", "serve", "--config", str(config)]
    starting = start(layout, "controller", argv, env=python_env(**dict(env or {})))
    record.processes = [p for p in record.processes if p["name"] != "controller" or p["pid"] != old.pid]
    record.processes.insert(1, starting.proc.to_dict())
    record.save(layout)
    starting.wait_ready(_READY)
    return starting.proc
