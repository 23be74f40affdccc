"""Where a lab keeps everything, what it is made of, and the record that every lab process reads.

One directory holds a whole lab; ``lab down`` removes it::

    lab.json                      the record: processes, endpoints, VMs and disks (written by ``lab up``)
    plan.toml                     the failback plan for the lab's VMs (failbackctl plan apply)
    run/<name>.log                each process's output; run/<name>.notify its readiness socket while starting
    vcsim/                        simulator: cert.pem, password (0600), tmp/ (its datastore folders)
    controller/                   failback-controller state; operator/failbackctl.toml is failbackctl's config
    agents/<name>/                agent state and agent.toml; mt-lab's retention/: every master target's
    guest/<master target>/        each master target's sysfs tree and device nodes (written by its shim)
    shim/state.json               what mt-lab's shim materialised (shim/<name>.json for further master targets)
    azure/                        tls/, secret (0600), vms/<vm>/<disk uuid>.disk (source disks),
                                  vms/<vm>/changelog/<disk uuid>/ (the tracker's change log),
                                  vms/<vm>/bookmarks.jsonl (the oracle: disk digests at every bookmark)

Sizes are small on purpose: the whole drill moves a few hundred MiB so it runs in minutes on two cores. A
:class:`Shape` makes a bigger lab (many VMs, several master targets, several protection groups) for benchmarks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.world._workload import WorkloadSettings

__all__ = [
    "LAB_VMS",
    "MASTER_TARGET",
    "MIB",
    "PHYSICAL_SERVER",
    "PROCESS_SERVER",
    "Layout",
    "Shape",
    "VmSpec",
    "default_dir",
    "read_record",
]

MIB = 1 << 20


@dataclass(frozen=True)
class VmSpec:
    """A machine's disks and hardware; the hardware is what Azure Site Recovery recorded of the source machine
    (``sourceVmCpuCount``, ``sourceVmRamSizeInMB``, ``firmwareType``), and a VM that fails back as a new VM gets it."""

    name: str
    disk_bytes: tuple[int, ...]
    cpus: int = 1
    memory_mb: int = 512
    firmware: str = "bios"  # vSphere's spelling: bios | efi

    def hardware(self) -> dict[str, object]:
        return {"cpus": self.cpus, "memory_mb": self.memory_mb, "firmware": self.firmware}


# The three machines that were failed over to Azure and come back; each with its own hardware, so a VM made anew
# shows whether it was configured like its source.
LAB_VMS: tuple[VmSpec, ...] = (
    VmSpec("web01", (64 * MIB, 32 * MIB), cpus=2, memory_mb=1024, firmware="efi"),
    VmSpec("app01", (64 * MIB,), cpus=4, memory_mb=3072, firmware="efi"),
    VmSpec("db01", (96 * MIB,), cpus=8, memory_mb=4096),
)
# With ``lab up --physical``: a physical Linux server that was failed over to Azure too. It has no VM on-premises
# and its disks no VMDK UUIDs, so it fails back as a new VM (alternate location, full initial sync).
PHYSICAL_SERVER = VmSpec("phys01", (32 * MIB,), cpus=2, memory_mb=2048, firmware="efi")
MASTER_TARGET = VmSpec("mt-lab", (16 * MIB,))  # its OS disk; replicated disks are attached by the workflows
PROCESS_SERVER = "ps-lab"


@dataclass(frozen=True)
class Shape:
    """What a lab is made of. The default is the drill's lab: three VMs, one master target, one protection group.

    ``master_targets`` master-target VMs are named ``mt-lab``, ``mt-lab-2``...; ``group_size`` VMs share each
    protection group (0: all in one, the configuration server's own); ``workload`` paces the Azure VMs' writes
    (None: the workload's defaults)."""

    vms: tuple[VmSpec, ...] = LAB_VMS
    master_targets: int = 1
    group_size: int = 0
    workload: WorkloadSettings | None = None

    def __post_init__(self) -> None:
        if not self.vms or self.master_targets < 1 or self.group_size < 0:
            raise ValueError("a lab needs at least one VM and one master target, and group_size >= 0")

    @property
    def master_target_names(self) -> tuple[str, ...]:
        return (MASTER_TARGET.name, *(f"{MASTER_TARGET.name}-{n}" for n in range(2, self.master_targets + 1)))


def default_dir() -> Path:
    """``$FAILBACK_LAB_DIR``, else ``$XDG_STATE_HOME/failback/lab`` (``~/.local/state/failback/lab``)."""
    configured = os.environ.get("FAILBACK_LAB_DIR")
    if configured:
        return Path(configured)
    state = os.environ.get("XDG_STATE_HOME")
    return (Path(state) if state else Path.home() / ".local" / "state") / "failback" / "lab"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def record(self) -> Path:
        return self.root / "lab.json"

    @property
    def plan(self) -> Path:
        return self.root / "plan.toml"

    @property
    def run(self) -> Path:
        return self.root / "run"

    def log(self, name: str) -> Path:
        return self.run / f"{name}.log"

    @property
    def vcsim(self) -> Path:
        return self.root / "vcsim"

    @property
    def controller(self) -> Path:
        return self.root / "controller"

    @property
    def ctl_config(self) -> Path:
        return self.controller / "operator" / "failbackctl.toml"

    def agent(self, name: str) -> Path:
        return self.root / "agents" / name

    @property
    def retention(self) -> Path:
        """The retention volume's path inside every master target (as a plan names it). On one machine they share
        mt-lab's directory: each pair's journal is a directory of its own."""
        return self.agent(MASTER_TARGET.name) / "retention"

    @property
    def guest(self) -> Path:
        return self.guest_of(MASTER_TARGET.name)

    def guest_of(self, master_target: str) -> Path:
        return self.root / "guest" / master_target

    @property
    def shim_state(self) -> Path:
        return self.shim_state_of(MASTER_TARGET.name)

    def shim_state_of(self, master_target: str) -> Path:
        name = "state" if master_target == MASTER_TARGET.name else master_target
        return self.root / "shim" / f"{name}.json"

    @property
    def azure(self) -> Path:
        return self.root / "azure"

    def azure_vm(self, vm: str) -> Path:
        return self.azure / "vms" / vm

    def source_disk(self, vm: str, disk_uuid: str) -> Path:
        return self.azure_vm(vm) / f"{disk_uuid}.disk"

    def change_log(self, vm: str, disk_uuid: str) -> Path:
        return self.azure_vm(vm) / "changelog" / disk_uuid

    def bookmarks(self, vm: str) -> Path:
        return self.azure_vm(vm) / "bookmarks.jsonl"


@dataclass
class Record:
    """``lab.json``: written by ``lab up`` step by step (so ``lab down`` can undo a half-made lab)."""

    dir: str
    state: str = "starting"  # starting | up
    processes: list[dict[str, Any]] = field(default_factory=list)
    vcenter: dict[str, Any] = field(default_factory=dict)
    azure: dict[str, Any] = field(default_factory=dict)
    controller: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, Any] = field(default_factory=dict)
    vms: list[dict[str, Any]] = field(default_factory=list)
    master_target: dict[str, Any] = field(default_factory=dict)  # mt-lab's entry of master_targets
    master_targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    workload: dict[str, Any] | None = None  # WorkloadSettings fields; None: the defaults

    def save(self, layout: Layout) -> None:
        layout.root.mkdir(parents=True, exist_ok=True)
        tmp = layout.record.with_name("lab.json.tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n")
        tmp.replace(layout.record)


def read_record(layout: Layout) -> Record:
    data = json.loads(layout.record.read_text())
    return Record(**data)
