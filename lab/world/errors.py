"""Errors of the lab (``failbackctl lab ...``).

::

    LabError (PermanentError)      the lab cannot be brought up, inspected or taken down as asked
    ├── LabExists                  a lab is already up in that directory
    ├── LabNotFound                no lab in that directory
    └── LabStartError              a lab process exited or stayed silent instead of becoming ready; names its log

None is temporary: each needs a change (another directory, ``lab down``, a fix named in the message) first.
"""

from __future__ import annotations

from failback.errors import PermanentError

__all__ = ["LabError", "LabExists", "LabNotFound", "LabStartError"]


class LabError(PermanentError):
    """The lab cannot do what was asked."""


class LabExists(LabError):
    """``lab up`` found a lab already in its directory."""


class LabNotFound(LabError):
    """``lab status`` or ``lab down`` found no lab in its directory."""


class LabStartError(LabError):
    """A lab process did not become ready."""
