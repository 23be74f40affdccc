"""Where an item fails back to, and why. Pure.

Original location when the on-premises VM still exists (found by its disks' UUIDs, which ASR recorded as the
protected disks' ids) with every protected disk, and the master target's host mounts every datastore those disks are
on: its disks are attached to the master target and only the blocks that differ cross the wire (checksum resync).
Otherwise alternate location: a new VM on the master target's host and the chosen datastore, configured like the
source, with new replica disks (a full initial sync). Physical servers always fail back as a new VM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.workflows.errors import NotEligible

__all__ = ["LocationDecision", "OnPremVm", "decide_location"]


@dataclass(frozen=True)
class OnPremVm:
    """The on-premises VM as vCenter shows it: ``disks`` maps normalised disk id → datastore moid."""

    instance_uuid: str
    name: str
    disks: dict[str, str | None]
    datastore_names: dict[str, str]


@dataclass(frozen=True)
class LocationDecision:
    location: str  # "original" | "alternate"
    vm: str | None  # the original VM's instance UUID
    reasons: tuple[str, ...]


def decide_location(
    *,
    item: str,
    requested: str,
    physical: bool,
    protected_disks: Sequence[str],
    candidate: OnPremVm | None,
    master_target_datastores: frozenset[str],
    master_target_host: str,
) -> LocationDecision:
    """``protected_disks`` are normalised ids; ``master_target_datastores`` are the moids its host mounts."""
    if physical:
        if requested == "original":
            raise NotEligible(
                f"{item} is a physical server: it can only fail back as a new VM",
                remedy="set location = 'alternate' (or 'auto') for it",
            )
        return LocationDecision("alternate", None, ("physical servers always fail back as a new VM",))
    if requested == "alternate":
        return LocationDecision("alternate", None, ("the plan asks for an alternate location",))
    problem = _original_problem(protected_disks, candidate, master_target_datastores, master_target_host)
    if problem is None:
        assert candidate is not None
        stores = sorted({candidate.datastore_names.get(ds or "", ds or "?") for ds in candidate.disks.values()})
        return LocationDecision(
            "original",
            candidate.instance_uuid,
            (
                f"VM {candidate.name} still exists with all {len(protected_disks)} protected disks",
                f"host {master_target_host} of the master target mounts {', '.join(stores)}",
                "only the blocks that differ are sent (checksum resync)",
            ),
        )
    if requested == "original":
        raise NotEligible(f"{item} cannot fail back to its original location: {problem}", remedy=_REMEDY)
    return LocationDecision("alternate", None, (problem, "a new VM is created and every block is sent"))


_REMEDY = "use location = 'auto' or 'alternate', or fix what is named (datastore access, the VM's disks)"


def _original_problem(
    protected: Sequence[str], candidate: OnPremVm | None, reachable: frozenset[str], host: str
) -> str | None:
    if candidate is None:
        return "no on-premises VM has the protected disks' UUIDs (the VM was deleted or its disks replaced)"
    missing = [disk for disk in protected if disk not in candidate.disks]
    if missing:
        return f"VM {candidate.name} lacks {len(missing)} of the protected disks ({', '.join(missing)})"
    stores = {candidate.disks[disk] for disk in protected}
    unreachable = sorted(candidate.datastore_names.get(ds or "", ds or "(unknown)") for ds in stores - reachable)
    if unreachable:
        return f"host {host} of the master target cannot see datastore {', '.join(unreachable)} of VM {candidate.name}"
    return None
