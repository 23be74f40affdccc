"""The list of subcommands. One line per command module; each module owns its parser and handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from agent.cli import _disks

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRY: list[Register] = []
REGISTRY.append(_disks.register)
