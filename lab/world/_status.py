"""``lab status``: every process, endpoint, source disk, on-premises disk and bookmark of a lab, by path, so anyone
can check the lab's claims with their own tools (``cmp``, ``b3sum``, ``govc``).

The document (``--output json``), schema 1; keys are only ever added::

    {"schema": 1, "dir": str, "state": "starting" | "up" | "degraded",
     "failbackctl_config": str,                               # export FAILBACKCTL_CONFIG=... to use failbackctl
     "plan": str,                                             # the failback plan file for the lab's VMs
     "processes": [{"name": str, "pid": int, "running": bool, "log": str}],
     "endpoints": {"vcenter": {"url", "username", "ca_file", "password_file"},
                   "azure": {"base_url", "ca_file", "subscription_id", "resource_group", "vault", "tenant_id",
                             "client_id", "secret_file"},
                   "controller": {"api", "registration"},
                   "agents": {name: {"role", "address", "config"}}},
     "vms": [{"name": str, "physical": bool,                  # a physical server has no on-premises disks
              "azure": {"power_state": str | null, "protection_state": str | null,
                        "disks": [{"disk_id", "path", "size_bytes", "change_log"}]},
              "onprem": {"instance_uuid": str | null, "power_state": str | null,
                         "disks": [{"disk_id", "vmdk", "path", "size_bytes", "attached_to": str | null,
                                    "replication": null | {"pair_id", "generation", "state", "group": str | null,
                                                           "journal": str,
                                                           "points": [{"id", "kind": "crash" | "app" |
                                                                       "resync_complete", "tag", "group", "time",
                                                                       "seq", "history_bytes"}]}}]},
              "bookmarks": [{"id", "kind": "app" | "crash", "tag": str | null, "group": str, "time": float,
                             "disks": {disk_id: {"digest": hex, "position": int}}}]}],
     "master_target": {"vm", "instance_uuid", "guest_root", "dev_root", "retention",
                       "devices": [{"name", "hctl", "disk_id", "vmdk", "path", "file"}],
                       "replication_error": str | null}}

``onprem.disks`` are the on-premises VMDKs wherever they are attached now (``attached_to``: the VM, e.g. the master
target during replication; null when detached), each with the extent file holding its bytes. ``replication`` is the
master target's pair for that disk (null when it has none): its journal directory on the retention volume and every
recovery point it holds, oldest first (``master_target.replication_error`` says why it could not be read, if so).
``bookmarks`` is the oracle: the digest (:func:`agent.dataplane.disk_digest`) of every source disk at every bookmark
the workload took.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from failback.diskid import InvalidDiskId, normalize_disk_id
from lab.world._layout import Layout, read_record
from lab.world._points import replication_by_disk
from lab.world._up import processes
from lab.world._vsphere import VmFacts, connect, extent_path, read_vms
from lab.world.errors import LabError, LabNotFound

__all__ = ["SCHEMA", "status"]

SCHEMA = 1
_AZURE_KEYS = (
    "base_url", "ca_file", "subscription_id", "resource_group", "vault", "tenant_id", "client_id", "secret_file",
)  # fmt: skip


def _normal(value: str) -> str | None:
    try:
        return normalize_disk_id(value)
    except InvalidDiskId:
        return None


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _json(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded


def _simulator_vms(record: Any) -> dict[str, VmFacts] | None:
    vc = record.vcenter
    if "password_file" not in vc:
        return None
    try:
        password = Path(vc["password_file"]).read_text()
        with connect(vc["host"], vc["port"], vc["username"], password, Path(vc["ca_file"])) as si:
            return read_vms(si)
    except (OSError, LabError):
        return None


def status(layout: Layout) -> dict[str, Any]:
    if not layout.record.exists():
        raise LabNotFound(f"no lab in {layout.root}", remedy="run 'failbackctl lab up', or give its --dir")
    record = read_record(layout)
    procs = processes(record)
    state = record.state if all(p["running"] for p in procs) else "degraded"
    live = _simulator_vms(record)
    urls = {record.vcenter["datastore"]["name"]: Path(record.vcenter["datastore"]["path"])} if live else {}
    owners: dict[str, tuple[str, Any]] = {}
    for facts in (live or {}).values():
        for live_disk in facts.disks:
            owners[live_disk.uuid.lower()] = (facts.name, live_disk)
    azure_state = _json(layout.azure / "state.json")
    pairs, pairs_error = replication_by_disk(layout, record) if state != "starting" else ({}, "the lab is starting")
    vms = []
    for vm in record.vms:
        name = vm["name"]
        now = (live or {}).get(name)
        onprem_disks = []
        for disk in [] if vm.get("physical") else vm["disks"]:
            owner, where = owners.get(disk["disk_id"].lower(), (None, None))
            onprem_disks.append(
                {
                    "disk_id": disk["disk_id"],
                    "vmdk": where.file_name if where else disk["file_name"],
                    "path": str(extent_path(where.file_name, urls)) if where else disk["onprem_file"],
                    "size_bytes": disk["size_bytes"],
                    "attached_to": owner,
                    "replication": pairs.get(_normal(disk["disk_id"]) or ""),
                }
            )
        vms.append(
            {
                "name": name,
                "physical": bool(vm.get("physical")),
                "azure": {
                    "power_state": azure_state.get("vms", {}).get(name),
                    "protection_state": azure_state.get("items", {}).get(name),
                    "disks": [
                        {k: d[k] for k in ("disk_id", "size_bytes", "change_log")} | {"path": d["source"]}
                        for d in vm["disks"]
                    ],
                },
                "onprem": {
                    "instance_uuid": vm["instance_uuid"],
                    "power_state": now.power_state if now else None,
                    "disks": onprem_disks,
                },
                "bookmarks": _json_lines(layout.bookmarks(name)),
            }
        )
    shim = _json(layout.shim_state)
    return {
        "schema": SCHEMA,
        "dir": str(layout.root),
        "state": state,
        "failbackctl_config": str(layout.ctl_config),
        "plan": str(layout.plan),
        "processes": [{k: p[k] for k in ("name", "pid", "running", "log")} for p in procs],
        "endpoints": {
            "vcenter": {k: record.vcenter.get(k) for k in ("url", "username", "ca_file", "password_file")},
            "azure": {k: record.azure.get(k) for k in _AZURE_KEYS},
            "controller": {k: record.controller.get(k) for k in ("api", "registration")},
            "agents": {
                name: {k: agent[k] for k in ("role", "address", "config")} for name, agent in record.agents.items()
            },
        },
        "vms": vms,
        "master_target": {
            **{k: record.master_target.get(k) for k in ("vm", "instance_uuid", "guest_root", "dev_root", "retention")},
            "devices": shim.get("devices", []),
            "replication_error": pairs_error,
        },
    }
