"""Errors of the job machinery, and the signals a step receives through its context.

::

    JobError (PermanentError)
    ├── UnknownJobType       no job type of that name is registered in this controller
    └── InvalidParameters    a job's parameters were refused by its type: nothing was submitted

    StepInterrupted (Exception)   not an error: the runner tells a running step to stop, and handles it itself
    ├── CancelRequested      an operator cancelled the job and the step allows it
    ├── LeaseLost            another replica took the job over: this one must not record anything more
    └── RunnerStopping       the controller is shutting down; the step resumes on the next start

A step raises :class:`failback.errors.TemporaryError` to be retried (the runner waits per the step's declared
policy; steps never sleep) and :class:`failback.errors.PermanentError` to fail the job with the error's remedy.
Steps must let :class:`StepInterrupted` propagate: never catch bare ``Exception`` around context calls.
"""

from __future__ import annotations

from failback.errors import PermanentError

__all__ = [
    "CancelRequested",
    "InvalidParameters",
    "JobError",
    "LeaseLost",
    "RunnerStopping",
    "StepInterrupted",
    "UnknownJobType",
]


class JobError(PermanentError):
    pass


class UnknownJobType(JobError):
    pass


class InvalidParameters(JobError):
    pass


class StepInterrupted(Exception):
    pass


class CancelRequested(StepInterrupted):
    pass


class LeaseLost(StepInterrupted):
    pass


class RunnerStopping(StepInterrupted):
    pass
