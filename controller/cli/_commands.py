"""The list of subcommands. One line per command module; each module owns its parser and handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from controller.cli import (
    _agents,
    _azure,
    _backup,
    _doctor,
    _failback,
    _health,
    _inventory,
    _jobs,
    _lab,
    _points,
    _servers,
    _tokens,
    _vcenter,
)

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRY: list[Register] = [
    _tokens.register,
    _agents.register,
    _servers.register,
    _vcenter.register,
    _azure.register,
    _inventory.register,
    _jobs.register,
    _failback.register,
    _doctor.register,
    _points.register,
    _backup.register,
    _health.register,
    _lab.register,
]
