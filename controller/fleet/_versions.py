"""The version rule between the parts of one failback: master target <= process server <= controller.

Azure Site Recovery has the same rule for its configuration server, process servers and master targets, and breaks
silently when it does not hold. Here it is a pure function whose refusal says which part to upgrade, used by the
workflows before they pair agents and by ``doctor``. Versions compare by their release numbers (``1.4.2``);
pre-release and local suffixes are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from failback.errors import PermanentError

__all__ = ["Part", "VersionMismatch", "check_versions", "release", "version_problems"]

_RELEASE = re.compile(r"^v?(\d+(?:\.\d+)*)")


class VersionMismatch(PermanentError):
    """Two parts break the version rule; the remedy names the part to upgrade and the version it needs."""


@dataclass(frozen=True)
class Part:
    """A running part: ``kind`` is "controller", "process server" or "master target"."""

    kind: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.version})" if self.name else f"{self.kind} ({self.version})"


def release(version: str) -> tuple[int, ...]:
    """``"1.4.2rc1+g3f2a"`` → ``(1, 4, 2)``; trailing zeros do not count (1.4 == 1.4.0)."""
    match = _RELEASE.match(version.strip())
    if not match:
        raise VersionMismatch(
            f"cannot read the version {version!r}",
            remedy="the agent reports its version at registration and in "
            "every heartbeat: upgrade it to a released failback",
        )
    numbers = [int(part) for part in match.group(1).split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def version_problems(
    controller: Part, process_servers: Sequence[Part] = (), master_targets: Sequence[Part] = ()
) -> list[VersionMismatch]:
    """Every pair that breaks the rule, each with the part to upgrade."""
    problems = []
    for server in process_servers:
        if release(server.version) > release(controller.version):
            problems.append(_newer(server, controller))
    for target in master_targets:
        if release(target.version) > release(controller.version):
            problems.append(_newer(target, controller))
        for server in process_servers:
            if release(target.version) > release(server.version):
                problems.append(_newer(target, server))
    return problems


def check_versions(controller: Part, process_server: Part | None = None, master_target: Part | None = None) -> None:
    """Raise :class:`VersionMismatch` for the first broken pair of a replication pair and its controller."""
    problems = version_problems(
        controller,
        [process_server] if process_server else [],
        [master_target] if master_target else [],
    )
    if problems:
        raise problems[0]


def _newer(newer: Part, older: Part) -> VersionMismatch:
    return VersionMismatch(
        f"{newer} is newer than {older}: failback needs master target <= process server <= controller",
        remedy=f"upgrade the {older.kind}{' ' + older.name if older.name else ''} to {newer.version} or later "
        "(upgrade in this order: controller, then process servers, then master targets)",
    )
