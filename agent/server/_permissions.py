"""SourcePairs.CheckAzurePermissions: what this process server's Azure identity lacks for its agentless pairs.

The process server holds the Azure credential (the controller never does), so it asks ARM's permissions API itself,
per resource group of each VM, and answers plain lists of missing actions for the doctor to report.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.api.v1 import pairs_pb2 as pb
from agent.replication import AzureAccess, SourceKind, SourcePairSpec
from agent.snapshots import AzureImages, PointMode, check_vm_permissions, vm_scopes
from failback.retry import Policy

__all__ = ["azure_permissions"]

# A doctor waits for this answer: a few retries of an unreachable ARM, not the replication's ten minutes.
_DOCTOR_POLICY = Policy(deadline=15.0, initial=0.5, maximum=4.0)

_MODE_IN = {
    pb.POINT_CONSISTENCY_UNSPECIFIED: PointMode.SNAPSHOTS,
    pb.POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS: PointMode.SNAPSHOTS,
    pb.POINT_CONSISTENCY_CRASH_RESTORE_POINTS: PointMode.CRASH_RESTORE_POINTS,
    pb.POINT_CONSISTENCY_APP_RESTORE_POINTS: PointMode.APP_RESTORE_POINTS,
}
_MODE_OUT = {mode: message for message, mode in _MODE_IN.items()}  # the last (explicit) name wins

_Vm = tuple[str, PointMode, list[str], str | None]


def _vms_of(pairs: Iterable[SourcePairSpec]) -> list[_Vm]:
    """One entry per VM of the AZURE_SNAPSHOTS pairs (their schedule is shared, so any pair's mode is the VM's)."""
    vms: dict[str, _Vm] = {}
    for spec in pairs:
        azure = spec.azure
        if SourceKind(spec.kind) is not SourceKind.AZURE_SNAPSHOTS or azure is None:
            continue
        vm = vms.setdefault(azure.vm_key, (azure.vm_resource_id, azure.mode, [], azure.snapshot_resource_group))
        vm[2].append(azure.disk_resource_id)
    return [vms[key] for key in sorted(vms)]


def azure_permissions(
    request: pb.AzurePermissionsRequest,
    access: AzureAccess | None,
    pairs: Iterable[SourcePairSpec],
    *,
    policy: Policy = _DOCTOR_POLICY,
) -> pb.AzurePermissionsResponse:
    """Raises :class:`~agent.snapshots.errors.InvalidConfig` for a malformed id or group name."""
    if request.vm_resource_id:
        vms: list[_Vm] = [
            (
                request.vm_resource_id,
                _MODE_IN.get(request.consistency, PointMode.SNAPSHOTS),
                list(request.disk_resource_ids),
                request.snapshot_resource_group or None,
            )
        ]
    else:
        vms = _vms_of(pairs)
    for vm_id, _mode, disks, group in vms:
        vm_scopes(vm_id, disks, group)  # every id is checked before Azure is asked anything
    if access is None:
        return pb.AzurePermissionsResponse(azure_configured=False)
    answer = pb.AzurePermissionsResponse(azure_configured=True)
    for vm_id, mode, disks, group in vms:
        subscription = vm_id.split("/")[2]
        with AzureImages(access.credential, subscription, config=access.config) as images:
            scopes = check_vm_permissions(
                lambda scope: images.permissions(scope, policy=policy),
                vm_id,
                mode=mode,
                disk_resource_ids=disks,
                snapshot_resource_group=group,
            )
        answer.vms.append(
            pb.VmAzurePermissions(
                vm_resource_id=vm_id,
                consistency=_MODE_OUT[mode],
                scopes=[
                    pb.ScopeAzurePermissions(
                        scope=s.scope,
                        roles=list(s.roles),
                        missing_actions=list(s.missing),
                        granted_actions=list(s.granted),
                        error=s.error or "",
                    )
                    for s in scopes
                ],
            )
        )
    return answer
