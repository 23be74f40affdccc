"""Errors of the vSphere simulator tooling.

::

    VcsimError (PermanentError)      the simulator cannot be built or run as asked
    ├── VcsimUnavailable             Go or the govmomi sources are not installed; says which Debian packages to add
    ├── VcsimBuildError              a fix no longer matches the govmomi source, or ``go build`` failed
    └── VcsimStartError              the simulator exited or stayed silent instead of printing its URL

None of these is temporary: each needs a change on the machine (packages, sources, flags) before a retry helps.
"""

from __future__ import annotations

from failback.errors import PermanentError

__all__ = ["VcsimBuildError", "VcsimError", "VcsimStartError", "VcsimUnavailable"]


class VcsimError(PermanentError):
    """The vSphere simulator cannot be built or run."""


class VcsimUnavailable(VcsimError):
    """The build prerequisites (Go, Debian's govmomi sources) are missing."""


class VcsimBuildError(VcsimError):
    """Patching or compiling the simulator failed; the message names the file, anchor or compiler output."""


class VcsimStartError(VcsimError):
    """The simulator process did not come up; the message carries the tail of its stderr."""
