"""Retention: which volumes may hold journals, how long points are kept, and consistency groups across pairs.

The engine itself (append, apply, points, pruning, point in time) is :mod:`agent.journal`; it takes a
:class:`RetentionPolicy`. This package imports the journal lazily (inside GroupRegistry.bring_to), so the journal
can import the policy at run time without an import cycle.
"""

from agent.retention._groups import GroupPoint, GroupRegistry
from agent.retention._policy import DEFAULT_THINNING, RetentionPolicy, ThinningRule
from agent.retention._volumes import Refusal, RetentionVolumes, VolumeReport
from agent.retention.errors import GroupError, RetentionError, VolumeIneligible, VolumeNotFound

__all__ = [
    "DEFAULT_THINNING",
    "GroupError",
    "GroupPoint",
    "GroupRegistry",
    "Refusal",
    "RetentionError",
    "RetentionPolicy",
    "RetentionVolumes",
    "ThinningRule",
    "VolumeIneligible",
    "VolumeNotFound",
    "VolumeReport",
]
