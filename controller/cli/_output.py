"""Printing results: a table for people, JSON (one document, stable keys) for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table

__all__ = ["add_output_argument", "emit", "human_bytes", "stamp"]

_PIPE_WIDTH = 400


def add_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", choices=["table", "json"], default="table")


def emit(args: argparse.Namespace, document: Any, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    if args.output == "json":
        print(json.dumps(document, indent=2, sort_keys=True, default=str))
        return
    table = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    # A terminal gets a table that fits; a pipe (grep, awk) gets every cell whole.
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else _PIPE_WIDTH).print(table)


def stamp(message: Message, field: str) -> str | None:
    """A Timestamp field as RFC 3339 UTC (``2026-11-25T12:00:00Z``), or None when unset."""
    if not message.HasField(field):
        return None
    return str(getattr(message, field).ToDatetime().isoformat()) + "Z"


def human_bytes(count: int | None) -> str:
    if count is None:
        return ""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
