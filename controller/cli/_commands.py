"""The list of subcommands. One line per command module; each module owns its parser and handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from controller.cli import _agents, _health, _tokens

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRY: list[Register] = [
    _tokens.register,
    _agents.register,
    _health.register,
]
