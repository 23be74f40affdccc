"""Errors of the operators' recovery-point desk. Every refusal is raised before anything changes.

::

    PointsError
    ├── PointsRefused (PermanentError)
    │   ├── UnknownPair          no protected VM has a pair with this id (or no VM has this name)
    │   ├── InvalidRequest       the request itself is wrong (no pair named, no point chosen): names the field
    │   ├── PairBusy             a workflow has the VM (failing over, failed over...), or the pair does not replicate
    │   ├── PointGone            no point matches the choice (pruned from retention, or never taken)
    │   └── AddressUnknown       no applied plan says where the pair's master target listens
    └── AgentUnreachable (TemporaryError)   the master target does not answer: try again when it runs
"""

from __future__ import annotations

from failback.errors import FailbackError, PermanentError, TemporaryError

__all__ = [
    "AddressUnknown",
    "AgentUnreachable",
    "InvalidRequest",
    "PairBusy",
    "PointGone",
    "PointsError",
    "PointsRefused",
    "UnknownPair",
]


class PointsError(FailbackError):
    pass


class PointsRefused(PointsError, PermanentError):
    pass


class UnknownPair(PointsRefused):
    pass


class InvalidRequest(PointsRefused):
    pass


class PairBusy(PointsRefused):
    pass


class PointGone(PointsRefused):
    pass


class AddressUnknown(PointsRefused):
    pass


class AgentUnreachable(PointsError, TemporaryError):
    pass
