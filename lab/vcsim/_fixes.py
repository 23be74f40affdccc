"""Fixes to govmomi 0.24.2's simulator, applied to a private copy of Debian's sources before every build.

Each fix is a set of anchored text edits: an anchor must occur exactly once in its file, or the build stops with an
error naming the file and the anchor. A simulator that silently misses a fix would make tests pass or fail for the
wrong reason, so there is no "apply what matches" mode. Fixes 1-4 are described in the lab notes (vcsim.md); fix 5
makes licence assignments listable the way vCenter lists them; fix 6 gives every VMDK a ``-flat.vmdk`` extent of
its capacity, which the lab's hypervisor shim uses as the disk's bytes; fix 7 starts VMware Tools with the guest.

This module must never write to the system's source tree: callers pass the root of their own copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.vcsim.errors import VcsimBuildError

__all__ = ["FIXES", "Edit", "Fix", "apply_fixes"]


@dataclass(frozen=True)
class Edit:
    """Replace ``anchor`` (which must occur exactly once) with ``replacement``."""

    anchor: str
    replacement: str


@dataclass(frozen=True)
class Fix:
    number: int
    file: str  # relative to the govmomi root
    why: str
    edits: tuple[Edit, ...]


_CREATE_DISK = (
    "\t\tif err := vdmCreateVirtualDisk(types.VirtualDeviceConfigSpecFileOperationCreate, req); err != nil {\n"
)

FIXES: tuple[Fix, ...] = (
    Fix(
        1,
        "simulator/property_collector.go",
        "Fetch of an unset property (vm.snapshot without snapshots) indexed an empty MissingSet and panicked; "
        "pyvmomi reads properties through Fetch and saw RemoteDisconnected",
        (
            Edit(
                anchor="""\tif len(obj.PropSet) == 0 {
\t\tfault := obj.MissingSet[0].Fault""",
                replacement="""\tif len(obj.PropSet) == 0 {
\t\tif len(obj.MissingSet) == 0 {
\t\t\t// failback fix 1: an unset property is an empty answer, not a fault.
\t\t\tbody.Res = &internal.FetchResponse{}
\t\t\treturn body
\t\t}
\t\tfault := obj.MissingSet[0].Fault""",
            ),
        ),
    ),
    Fix(
        2,
        "simulator/task.go",
        "TaskInfo.entity named managers (VirtualDiskManager, HostDatastoreBrowser) that are not managed entities; "
        "pyvmomi 9 rejects such a task with TypeError",
        (
            Edit(
                anchor="""\ttask.Info.Entity = &ref
\ttask.Info.EntityName = ref.Value
""",
                replacement="""\t// failback fix 2: TaskInfo.entity is a ManagedEntity; manager-owned tasks have none.
\tif _, ok := Map.Get(ref).(mo.Entity); ok {
\t\ttask.Info.Entity = &ref
\t\ttask.Info.EntityName = ref.Value
\t}
""",
            ),
        ),
    ),
    Fix(
        2,
        "simulator/snapshot.go",
        "snapshot remove/revert tasks were owned by the snapshot, which is not a managed entity; vCenter owns them "
        "by the virtual machine",
        (
            Edit(
                anchor='task := CreateTask(v, "removeSnapshot",',
                replacement='task := CreateTask(Map.Get(v.Vm), "removeSnapshot", // failback fix 2\n\t\t',
            ),
            Edit(
                anchor='task := CreateTask(v, "revertToSnapshot",',
                replacement='task := CreateTask(Map.Get(v.Vm), "revertToSnapshot", // failback fix 2\n\t\t',
            ),
        ),
    ),
    Fix(
        3,
        "simulator/virtual_machine.go",
        "VirtualDisk.backing.uuid was never set; the master target pairs disks by this UUID, and it must survive "
        "detaching the VMDK from one VM and attaching it to another",
        (
            Edit(
                anchor="""\t\t\tif disk, ok := b.(*types.VirtualDiskFlatVer2BackingInfo); ok {
\t\t\t\t// These properties default to false""",
                replacement="""\t\t\tif disk, ok := b.(*types.VirtualDiskFlatVer2BackingInfo); ok {
\t\t\t\t// failback fix 3: the UUID belongs to the VMDK, so derive it from the resolved file; ESXi's
\t\t\t\t// UUIDs start with 6000C29.
\t\t\t\tdisk.Uuid = "6000C29" + sha1UUID(p.Datastore+"]"+p.Path).String()[7:]
\t\t\t\t// These properties default to false""",
            ),
        ),
    ),
    Fix(
        4,
        "simulator/authorization_manager.go",
        "SetEntityPermissions replaced the entity's permissions and dropped Permission.entity; vCenter merges by "
        "principal and records the entity",
        (
            Edit(
                anchor="""\tm.permissions[req.Entity] = req.Permission
""",
                replacement="""\t// failback fix 4: merge by principal and record the entity.
\tentity := req.Entity
\tfor _, p := range req.Permission {
\t\tp.Entity = &entity
\t\treplaced := false
\t\tfor i, q := range m.permissions[entity] {
\t\t\tif q.Principal == p.Principal && q.Group == p.Group {
\t\t\t\tm.permissions[entity][i] = p
\t\t\t\treplaced = true
\t\t\t}
\t\t}
\t\tif !replaced {
\t\t\tm.permissions[entity] = append(m.permissions[entity], p)
\t\t}
\t}
""",
            ),
        ),
    ),
    Fix(
        5,
        "simulator/license_manager.go",
        "QueryAssignedLicenses without an entity returned one assignment for the empty entity; vCenter returns one "
        "per licensed entity (each host, and vCenter itself), which is how an inventory reads host editions in "
        "one call",
        (
            Edit(
                anchor="""\tbody.Res.Returnval = []types.LicenseAssignmentManagerLicenseAssignment{
\t\t{
\t\t\tEntityId:        req.EntityId,""",
                replacement="""\tif req.EntityId == "" {
\t\t// failback fix 5: list every assignment, as vCenter does.
\t\tfor _, host := range Map.All("HostSystem") {
\t\t\tbody.Res.Returnval = append(body.Res.Returnval, types.LicenseAssignmentManagerLicenseAssignment{
\t\t\t\tEntityId:          host.Reference().Value,
\t\t\t\tEntityDisplayName: host.Entity().Name,
\t\t\t\tAssignedLicense:   EvalLicense,
\t\t\t})
\t\t}
\t\treq.EntityId = Map.content().About.InstanceUuid
\t}

\tbody.Res.Returnval = append(body.Res.Returnval, []types.LicenseAssignmentManagerLicenseAssignment{
\t\t{
\t\t\tEntityId:        req.EntityId,""",
            ),
            Edit(
                anchor="""\t\t\tAssignedLicense: EvalLicense,
\t\t},
\t}

\treturn body""",
                replacement="""\t\t\tAssignedLicense: EvalLicense,
\t\t},
\t}...)

\treturn body""",
            ),
        ),
    ),
    Fix(
        6,
        "simulator/virtual_disk_manager.go",
        "a VMDK made by CreateVirtualDisk_Task kept no capacity: its -flat.vmdk extent was an empty file; the lab's "
        "hypervisor shim keeps each disk's bytes in that extent, so it must have the disk's size",
        (
            Edit(
                anchor=_CREATE_DISK
                + """\t\t\treturn "", err
\t\t}
\t\treturn req.Name, nil""",
                replacement=_CREATE_DISK
                + """\t\t\treturn "", err
\t\t}
\t\t// failback fix 6: the flat extent holds the disk's bytes, sized to the capacity (sparse).
\t\tif spec, ok := req.Spec.(*types.FileBackedVirtualDiskSpec); ok {
\t\t\tif file, fault := Map.FileManager().resolve(req.Datacenter, req.Name); fault == nil {
\t\t\t\t_ = os.Truncate(vdmNames(file)[0], spec.CapacityKb*1024)
\t\t\t}
\t\t}
\t\treturn req.Name, nil""",
            ),
        ),
    ),
    Fix(
        6,
        "simulator/virtual_machine.go",
        "a disk added to a VM did not size its -flat.vmdk extent, and attaching an existing VMDK reported capacity 0 "
        "where vCenter reads it from the disk; both now follow the extent's size",
        (
            Edit(
                anchor="""\t\t\terr := vdmCreateVirtualDisk(spec.FileOperation, &types.CreateVirtualDisk_Task{
\t\t\t\tDatacenter: &dc.Self,
\t\t\t\tName:       info.FileName,
\t\t\t})
\t\t\tif err != nil {
\t\t\t\treturn err
\t\t\t}
""",
                replacement="""\t\t\terr := vdmCreateVirtualDisk(spec.FileOperation, &types.CreateVirtualDisk_Task{
\t\t\t\tDatacenter: &dc.Self,
\t\t\t\tName:       info.FileName,
\t\t\t})
\t\t\tif err != nil {
\t\t\t\treturn err
\t\t\t}
\t\t\t// failback fix 6: the flat extent holds the disk's bytes: a new disk sizes it, an existing one is as
\t\t\t// large as its extent.
\t\t\tif file, fault := Map.FileManager().resolve(&dc.Self, info.FileName); fault == nil {
\t\t\t\tflat := vdmNames(file)[0]
\t\t\t\tif spec.FileOperation == types.VirtualDeviceConfigSpecFileOperationCreate {
\t\t\t\t\t_ = os.Truncate(flat, getDiskSize(x))
\t\t\t\t} else if getDiskSize(x) == 0 {
\t\t\t\t\tif st, statErr := os.Stat(flat); statErr == nil {
\t\t\t\t\t\tx.CapacityInKB = st.Size() / 1024
\t\t\t\t\t\tx.CapacityInBytes = st.Size()
\t\t\t\t\t}
\t\t\t\t}
\t\t\t}
""",
            ),
        ),
    ),
    Fix(
        7,
        "simulator/virtual_machine.go",
        "a powered-on VM never reported VMware Tools running, so a workflow waiting for the guest to boot (as vCenter "
        "shows it: toolsRunningStatus) waited for ever; the lab's guests run Tools, which start with the VM and stop "
        "with it",
        (
            Edit(
                anchor="""\t\t{Name: "summary.runtime.bootTime", Val: boot},
\t})
""",
                replacement="""\t\t{Name: "summary.runtime.bootTime", Val: boot},
\t})
\t// failback fix 7: the guest's VMware Tools run while the VM does.
\ttools := string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
\tif c.state == types.VirtualMachinePowerStatePoweredOn {
\t\ttools = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
\t}
\tMap.Update(c.VirtualMachine, []types.PropertyChange{
\t\t{Name: "guest.toolsRunningStatus", Val: tools},
\t})
""",
            ),
        ),
    ),
)


def apply_fixes(govmomi_root: Path, fixes: tuple[Fix, ...] = FIXES) -> None:
    """Apply every edit of ``fixes`` to the govmomi tree at ``govmomi_root`` (a private copy), or raise.

    All anchors are checked before any file is written, so a mismatch leaves the copy untouched.
    """
    patched: dict[Path, str] = {}
    for fix in fixes:
        path = govmomi_root / fix.file
        if path not in patched:
            try:
                patched[path] = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise VcsimBuildError(
                    f"simulator fix {fix.number}: {path} does not exist",
                    remedy="install golang-github-vmware-govmomi-dev 0.24.2 or update lab/vcsim/_fixes.py",
                ) from None
        text = patched[path]
        for edit in fix.edits:
            count = text.count(edit.anchor)
            if count != 1:
                raise VcsimBuildError(
                    f"simulator fix {fix.number}: anchor {edit.anchor!r} occurs {count} times in {path}, "
                    "expected exactly once",
                    remedy="the govmomi sources changed; update lab/vcsim/_fixes.py to the installed version",
                )
            text = text.replace(edit.anchor, edit.replacement)
        patched[path] = text
    for path, text in patched.items():
        path.write_text(text, encoding="utf-8")
