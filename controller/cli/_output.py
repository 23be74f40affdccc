"""Printing results: a table for people, JSON (one document, stable keys) for scripts."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["add_output_argument", "emit"]


def add_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", choices=["table", "json"], default="table")


def emit(args: argparse.Namespace, document: Any, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    if args.output == "json":
        print(json.dumps(document, indent=2, sort_keys=True, default=str))
        return
    table = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    Console(soft_wrap=True).print(table)
