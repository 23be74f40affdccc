"""Recovery points for operators, through the controller: list a replicating pair's points, hold its target disk at
one (a test of the point), return it to latest, and report retention use and RPO health per master target and pair.

Pairs are found from what the workflows recorded on the protected items (``PairDirectory``); the master targets are
asked through the controller's agent client. ``PointsDesk`` never acts on a VM a workflow has.
"""

from controller.points._desk import (
    FILTERS,
    MasterTargetRetention,
    PairAtPoint,
    PairPoints,
    PairRetention,
    PairView,
    PointsDesk,
    RetentionReport,
)
from controller.points._directory import PairDirectory, PairLocation
from controller.points.errors import (
    AddressUnknown,
    AgentUnreachable,
    InvalidRequest,
    PairBusy,
    PointGone,
    PointsError,
    PointsRefused,
    UnknownPair,
)

__all__ = [
    "FILTERS",
    "AddressUnknown",
    "AgentUnreachable",
    "InvalidRequest",
    "MasterTargetRetention",
    "PairAtPoint",
    "PairBusy",
    "PairDirectory",
    "PairLocation",
    "PairPoints",
    "PairRetention",
    "PairView",
    "PointGone",
    "PointsDesk",
    "PointsError",
    "PointsRefused",
    "RetentionReport",
    "UnknownPair",
]
