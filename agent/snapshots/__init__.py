"""Azure snapshots as a change source for the process server: no agent inside the failed-over VM, every point
crash-consistent by construction, multi-disk consistency from VM restore points.

Per protected VM, one :class:`SnapshotGroup` takes the points (an incremental snapshot of each paired disk, or a VM
restore point) on the policy's schedule; per disk pair, one :class:`SnapshotSource` streams each cycle (the pages
Azure lists as changed since the previous point, read with ranged GETs) into the data path::

    credential = make_credential(ManagedIdentity())
    azure = AzureImages(credential, subscription_id, config=AzureConfig())
    group = SnapshotGroup("vm-42", vm_resource_group="rg-dr", vm_name="web01",
                          pairs={"pair-a": os_disk_arm_id, "pair-b": data_disk_arm_id},
                          azure=azure, state_dir="/var/lib/failback/snapshots", policy=SnapshotPolicy(interval=300))
    group.start()                                        # on every start: deletes orphans of a crash (by tag)
    source = SnapshotSource(group, "pair-a", remote=master_target_hashes, limiter=read_limiter)
    sender = PairSender("pair-a", source=source, ..., on_acknowledged=source.acknowledged)
    sender.connect(watermark, transport)
    loop: sender.pump(transport); wait until group.next_due() (or acks); source.rpo() is the achieved RPO

A point is deleted (its SAS revoked first) only once every pair's master target acknowledged a later bookmark.
This package never imports gRPC; errors are :mod:`agent.snapshots.errors`.
"""

from agent.snapshots._azure import PERMISSIONS_API_VERSION, AzureImages, ImageRef, VmDisk, VmInfo
from agent.snapshots._config import MIN_INTERVAL, AzureConfig, PointMode, SnapshotPolicy
from agent.snapshots._cursor import DONE, make_cursor, split_cursor
from agent.snapshots._grant import ImageGrant
from agent.snapshots._group import Cleanup, Cycle, SnapshotGroup
from agent.snapshots._identity import ManagedIdentity, ServicePrincipal, make_credential
from agent.snapshots._permissions import (
    REQUIRED_ACTIONS,
    PermissionCheck,
    RequiredAction,
    check_permissions,
    is_granted,
    required_actions,
)
from agent.snapshots._ranges import MAX_BLOCK, PAGE, PageRange, PlannedBlock, check_ranges, complement, plan_blocks
from agent.snapshots._reader import BlobSession, Grant, ImageReader, ReadStats
from agent.snapshots._scopes import ScopePermissions, check_vm_permissions, vm_scopes
from agent.snapshots._source import CycleStats, SnapshotSource
from agent.snapshots._state import CycleRecord, GroupState, PairRecord, PointRecord

__all__ = [
    "DONE",
    "MAX_BLOCK",
    "MIN_INTERVAL",
    "PAGE",
    "PERMISSIONS_API_VERSION",
    "REQUIRED_ACTIONS",
    "AzureConfig",
    "AzureImages",
    "BlobSession",
    "Cleanup",
    "Cycle",
    "CycleRecord",
    "CycleStats",
    "Grant",
    "GroupState",
    "ImageGrant",
    "ImageReader",
    "ImageRef",
    "ManagedIdentity",
    "PageRange",
    "PairRecord",
    "PermissionCheck",
    "PlannedBlock",
    "PointMode",
    "PointRecord",
    "ReadStats",
    "RequiredAction",
    "ScopePermissions",
    "ServicePrincipal",
    "SnapshotGroup",
    "SnapshotPolicy",
    "SnapshotSource",
    "VmDisk",
    "VmInfo",
    "check_permissions",
    "check_ranges",
    "check_vm_permissions",
    "complement",
    "is_granted",
    "make_credential",
    "make_cursor",
    "plan_blocks",
    "required_actions",
    "split_cursor",
    "vm_scopes",
]
