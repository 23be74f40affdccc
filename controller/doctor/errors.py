"""Errors of the doctor. Unreachable or refusing sources are findings, not errors; these are about the request.

::

    DoctorError (PermanentError)
    ├── SelectionInvalid     not exactly one of a plan, VMs or everything; a VM name that names several items
    └── UnknownTarget        a VM the controller does not know (an unknown plan is the store's NotFound)

A failed preflight is the workflows' :class:`~controller.workflows.PreflightFailed`: the job that asked fails.
"""

from __future__ import annotations

from failback.errors import PermanentError

__all__ = ["DoctorError", "SelectionInvalid", "UnknownTarget"]


class DoctorError(PermanentError):
    pass


class SelectionInvalid(DoctorError):
    pass


class UnknownTarget(DoctorError):
    pass
