"""JSON helpers shared by the body builders: the body type and ARM's timestamp format."""

from __future__ import annotations

import datetime
from typing import Any

__all__ = ["Json", "rfc3339"]

Json = dict[str, Any]


def rfc3339(value: datetime.datetime | None) -> str | None:
    """ARM's UTC timestamp with microseconds and a ``Z``; None stays None (ASR omits unknown times)."""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
