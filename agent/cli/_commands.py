"""The list of subcommands. One line per command module; each module owns its parser and handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from agent.cli import _disks, _health, _register, _serve

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRY: list[Register] = [
    _serve.register,
    _register.register,
    _health.register,
    _disks.register,
]
