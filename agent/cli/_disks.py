"""``failback-agent disks``: list the disks this host sees, with the ids that identify their VMDKs.

Usage::

    failback-agent disks [--output table|json] [--sysfs-root PATH] [--agent-dir PATH] [--retention PATH ...]

``--sysfs-root`` reads another sysfs tree (``PATH/sys``; mounts from ``PATH/proc/self/mounts``) instead of this
machine's. ``--agent-dir`` (default: where this agent's code is installed) and ``--retention`` mark the disks that
hold them, which are never offered as replication targets. The listing changes nothing on the system.

JSON output (``--output json``) is one object; keys are never renamed or repurposed, new keys may be added::

    {
      "schema": 1,
      "platform": "linux" | "windows",
      "source": "udev" | "sysfs" | "powershell",          what enumerated the disks
      "disks": [                                           sorted by name (sdb < sdz < sdaa)
        {
          "id": "naa.6000c29..." | "eui...." | null,       the normalised page-83 id: the disk's identity
          "id_problem": str | null,                        why id is null, and what to do
          "id_source": "udev" | "vpd_pg83" | "wwid" | "get-disk" | null,
          "native_id": str | null,                         the id as the platform printed it
          "name": "sdb" | "PhysicalDrive3",                a label, never an identity
          "path": "/dev/sdb" | "\\\\.\\PhysicalDrive3",    where to open it now
          "size_bytes": int,
          "vendor": str, "model": str, "serial": str | null,
          "controller": "pvscsi" | "lsilogic" | "lsilogic-sas" | "buslogic" | "sata" | "ide" | "nvme"
                        | "virtio-scsi" | "virtio-blk" | "loop" | "other",
          "driver": str | null,                            vmw_pvscsi, pvscsi, virtio_blk, ...
          "controller_key": str | null,                    disks with one key share a controller (host2, port2)
          "hctl": {"host": int, "channel": int, "target": int, "lun": int} | null,
          "vmware": bool,
          "needs_enable_uuid": bool,                       a VMware SCSI disk without page-83 id
          "read_only": bool, "offline": bool, "removable": bool,
          "roles": ["agent" | "os" | "retention", ...],    non-empty: never a replication target
          "partitions": [str], "holders": [str], "mountpoints": [str],
          "partition_style": "RAW" | "MBR" | "GPT" | null  (Windows only)
        }
      ],
      "problems": [str],              duplicates, missing disk.EnableUUID: what lookups by id would refuse
      "counts": {"total", "with_id", "without_id", "protected", "in_use", "duplicated", "candidates": int},
      "capacity": {"controllers": [{"key", "controller", "disks", "free"}], "attached": int, "limit": 60,
                   "free": int, "controllers_free": int}
    }

Exit codes: 0 the disks were listed (problems, if any, are part of the output), 1 discovery failed, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.discovery import Inventory

JSON_SCHEMA_VERSION = 1


def _sysfs_root(value: str) -> Path:
    root = Path(value)
    if not (root / "sys" / "block").is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} has no sys/block directory; give the directory that holds sys/")
    return root


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "disks",
        help="list disks and their SCSI ids",
        description="List the disks this host sees, with the ids that identify their VMDKs.",
    )
    parser.add_argument("--output", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.add_argument(
        "--sysfs-root", type=_sysfs_root, metavar="PATH", help="read PATH/sys instead of this machine's /sys"
    )
    parser.add_argument(
        "--dev-root", type=Path, metavar="PATH", help="with --sysfs-root: the device nodes of that tree are in PATH"
    )
    parser.add_argument(
        "--agent-dir", metavar="PATH", help="the agent's install directory (default: where this code lives)"
    )
    parser.add_argument(
        "--retention", action="append", default=[], metavar="PATH", help="a retention volume path (repeatable)"
    )
    parser.set_defaults(handler=_run)


def _default_agent_dir() -> str:
    import agent

    return str(Path(agent.__file__).resolve().parent.parent)


def _run(args: argparse.Namespace) -> int:
    from agent.discovery import open_discovery

    discovery = open_discovery(
        agent_dir=args.agent_dir or _default_agent_dir(),
        retention_paths=args.retention,
        sysfs_root=args.sysfs_root,
        dev_root=args.dev_root,
    )
    inventory = discovery.list_disks()
    if args.output == "json":
        json.dump({"schema": JSON_SCHEMA_VERSION, **inventory.to_dict()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(inventory)
    return 0


def _size(size_bytes: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{size_bytes} B"


def _print_table(inventory: Inventory) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"disks ({inventory.platform}, from {inventory.source})")
    for column in ("device", "id", "size", "controller", "h:c:t:l", "vendor / model", "roles / state"):
        table.add_column(column)
    for disk in inventory.disks:
        state = [*sorted(role.value for role in disk.roles)]
        state += [flag for flag, on in (("read-only", disk.read_only), ("offline", disk.offline)) if on]
        state += [f"mounted {point}" for point in disk.mountpoints]
        state += [f"held by {holder}" for holder in disk.holders]
        table.add_row(
            disk.path,
            disk.disk_id or "[yellow]none[/yellow]",
            _size(disk.size_bytes),
            disk.controller.value,
            str(disk.hctl) if disk.hctl else "-",
            " ".join(part for part in (disk.vendor, disk.model) if part) or "-",
            ", ".join(state) or "free",
        )
    console = Console()
    console.print(table)
    capacity = inventory.capacity()
    console.print(
        f"{capacity.attached} of {capacity.limit} disks on vSphere SCSI controllers; {capacity.free} more can be "
        "attached"
    )
    for disk in inventory.disks:
        if disk.disk_id is None:
            console.print(f"{disk.path} has no id: {disk.id_problem}", highlight=False)
    for problem in inventory.problems():
        console.print(f"[bold red]problem:[/bold red] {problem}", highlight=False)
