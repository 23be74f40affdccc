"""``lab up`` and ``lab down``: make a whole failback site on this machine, consistent end to end, and remove it.

Up, in order (each step recorded in ``lab.json`` before the next, so a failure anywhere is undone by ``down``):

1. the vSphere simulator (built from Debian's govmomi sources on first use), its datastore folders inside the lab;
2. in it: the master-target VMs (disk.EnableUUID = TRUE, powered on, an OS disk) and the on-premises VMs (web01,
   app01 and db01 unless a :class:`Shape` says otherwise; powered off: they were failed over); the Azure VMs'
   source disks are written with data, and the on-premises VMDKs' extents get a copy of it - the state at the
   failover, which original-location reprotect resyncs from;
3. the controller (mutual TLS, a new CA), a hypervisor shim per master target, a process server and the master
   targets registered with one-time tokens (each master target reads its shim's guest tree);
4. the Azure side: the local endpoint and the workloads, which from now on make the Azure disks diverge;
5. the vCenter and the vault registered with the controller, and their inventories read (``--refresh``,
   ``--import``).

Down stops every recorded process (only if its pid is still that process), then removes the lab directory, which
holds everything the lab made, the simulator's datastore folders included.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from failback.config import parse_address
from failback.retry import Policy
from lab.vcsim import build
from lab.world._layout import (
    MASTER_TARGET,
    MIB,
    PHYSICAL_SERVER,
    PROCESS_SERVER,
    Layout,
    Record,
    Shape,
    VmSpec,
    read_record,
)
from lab.world._procs import Proc, Starting, alive, python_env, start, stop
from lab.world._vsphere import connect, create_vm, datastore_urls, extent_path, first_network
from lab.world.errors import LabError, LabExists, LabNotFound

__all__ = ["down", "up"]

Progress = Callable[[str], None]
_READY = 60.0
_URL_WAIT = Policy(deadline=60.0, initial=0.02, maximum=0.2)
_CLI_TIMEOUT = 120.0
_FILLED = 0.6  # share of each source disk's MiB chunks that hold data; the rest stays zero (sparse)
_BOOT_GROUPS = {"db01": 1, "app01": 2, "web01": 3, PHYSICAL_SERVER.name: 2}  # the database first, web last


def _quiet(_: str) -> None:
    return None


def up(layout: Layout, *, progress: Progress = _quiet, physical: bool = False, shape: Shape | None = None) -> Record:
    """Bring a lab up in ``layout.root``; refuses a directory that already holds one. ``physical`` adds a physical
    server (``PHYSICAL_SERVER``) failed over to Azure, which fails back as a new VM; ``shape`` what the lab is made
    of (default: the drill's three VMs and one master target)."""
    shape = shape or Shape()
    if layout.record.exists():
        raise LabExists(
            f"a lab is already in {layout.root}", remedy="run 'failbackctl lab down' first, or use another --dir"
        )
    layout.root.mkdir(parents=True, exist_ok=True)
    if any(layout.root.iterdir()):
        raise LabExists(f"{layout.root} is not empty", remedy="give an empty or new directory with --dir")
    record = Record(dir=str(layout.root), workload=asdict(shape.workload) if shape.workload else None)
    record.save(layout)
    try:
        _simulator(layout, record, progress)
        _vms_and_disks(layout, record, progress, shape)
        if physical:
            _physical_server(layout, record, progress)
        _controller(layout, record, progress)
        _shim(layout, record, progress)
        _agents(layout, record, progress)
        _azure(layout, record, progress)
        _register_sources(layout, record, progress)
    except BaseException:
        progress("lab up failed; removing what it made")
        down(layout)
        raise
    record.state = "up"
    record.save(layout)
    return record


def _track(layout: Layout, record: Record, starting: Starting) -> Starting:
    record.processes.append(starting.proc.to_dict())
    record.save(layout)
    return starting


# -- 1. the simulator ---------------------------------------------------------------------------------------------


def _simulator(layout: Layout, record: Record, progress: Progress) -> None:
    from lab.world import LAB_MODEL

    binary = build()
    progress("vSphere simulator built")
    layout.vcsim.mkdir(parents=True)
    (layout.vcsim / "tmp").mkdir()
    password_file = layout.vcsim / "password"
    password_file.touch(mode=0o600)
    password = secrets.token_urlsafe(18)
    password_file.write_text(password)
    cert = layout.vcsim / "cert.pem"
    env = {**os.environ, "TMPDIR": str(layout.vcsim / "tmp"), "VCSIM_PASSWORD": password}
    argv = [str(binary), *LAB_MODEL.argv(), f"-cert-file={cert}", "-username=failback"]
    url_file = layout.run / "vcsim.url"
    starting = _track(layout, record, start(layout, "vcsim", argv, env=env, notify=False, stdout=url_file))
    url = starting.wait_for_file_line(url_file, _URL_WAIT)
    match = re.match(r"https://127\.0\.0\.1:(\d+)/sdk$", url)
    if match is None:
        raise LabError(f"the simulator printed {url!r} instead of its https://127.0.0.1 URL")
    record.vcenter = {
        "url": url,
        "host": "127.0.0.1",
        "port": int(match.group(1)),
        "username": "failback",
        "password_file": str(password_file),
        "ca_file": str(cert),
    }
    record.save(layout)
    progress(f"vSphere simulator serving on {url}")


# -- 2. VMs and disks -----------------------------------------------------------------------------------------------


def _vms_and_disks(layout: Layout, record: Record, progress: Progress, shape: Shape) -> None:
    vc = record.vcenter
    password = Path(vc["password_file"]).read_text()
    with connect(vc["host"], vc["port"], vc["username"], password, Path(vc["ca_file"])) as si:
        for name in shape.master_target_names:
            mt = create_vm(si, name, list(MASTER_TARGET.disk_bytes), enable_uuid=True, power_on=True)
            record.master_targets[name] = {
                "vm": mt.name,
                "instance_uuid": mt.instance_uuid,
                "os_disk": mt.disks[0].uuid,
                "guest_root": str(layout.guest_of(name)),
                "dev_root": str(layout.guest_of(name) / "dev"),
                "retention": str(layout.retention),
            }
        record.master_target = record.master_targets[MASTER_TARGET.name]
        urls = datastore_urls(si)
        datastore = min(urls)  # LocalDS_0, where create_vm puts every lab VM
        record.vcenter["datastore"] = {"name": datastore, "path": str(urls[datastore])}
        record.vcenter["datastores"] = {name: str(path) for name, path in urls.items()}
        # The network every lab VM's NIC is on: what ASR recorded as each source NIC's network.
        record.vcenter["networks"] = [name for name in (first_network(si),) if name]
        for index, spec in enumerate(shape.vms):
            vm = create_vm(
                si,
                spec.name,
                list(spec.disk_bytes),
                enable_uuid=False,
                power_on=False,
                cpus=spec.cpus,
                memory_mb=spec.memory_mb,
                firmware=spec.firmware,
            )
            disks = []
            for unit, disk in enumerate(vm.disks):
                source = layout.source_disk(vm.name, disk.uuid)
                _fill(source, disk.capacity_bytes, seed=index * 16 + unit)
                extent = extent_path(disk.file_name, urls)
                _copy_sparse(source, extent)
                disks.append(
                    {
                        "disk_id": disk.uuid,
                        "file_name": disk.file_name,
                        "size_bytes": disk.capacity_bytes,
                        "source": str(source),
                        "change_log": str(layout.change_log(vm.name, disk.uuid)),
                        "onprem_file": str(extent),
                    }
                )
            record.vms.append(
                {
                    "name": vm.name,
                    "instance_uuid": vm.instance_uuid,
                    "hardware": _hardware(spec, record),
                    "disks": disks,
                    "group": _protection_group(index, shape.group_size),
                }
            )
            record.save(layout)
    names = [s.name for s in shape.vms]
    listed = ", ".join(names) if len(names) <= 5 else f"{len(names)} VMs ({names[0]} to {names[-1]})"
    progress(
        f"VMs in the simulator: {', '.join(shape.master_target_names)} (master targets) and {listed}, "
        "their VMDKs holding the data as it was at the failover"
    )


def _hardware(spec: VmSpec, record: Record) -> dict[str, Any]:
    """The source machine as ASR recorded it: CPUs, memory, firmware and one NIC on the lab's network."""
    return {**spec.hardware(), "nics": record.vcenter["networks"][:1]}


def _protection_group(index: int, size: int) -> str | None:
    """The protection group of the ``index``-th VM; None: the configuration server's own (every VM's by default)."""
    return f"pg-{index // size + 1:02d}" if size else None


def _physical_server(layout: Layout, record: Record, progress: Progress) -> None:
    """Its disks exist only in Azure (and are named as the server's OS named them): nothing on-premises holds them."""
    disks = []
    for unit, size in enumerate(PHYSICAL_SERVER.disk_bytes):
        disk_id = f"{PHYSICAL_SERVER.name}-sd{chr(ord('a') + unit)}"
        source = layout.source_disk(PHYSICAL_SERVER.name, disk_id)
        _fill(source, size, seed=1000 + unit)
        disks.append(
            {
                "disk_id": disk_id,
                "file_name": None,
                "size_bytes": size,
                "source": str(source),
                "change_log": str(layout.change_log(PHYSICAL_SERVER.name, disk_id)),
                "onprem_file": None,
            }
        )
    record.vms.append(
        {
            "name": PHYSICAL_SERVER.name,
            "instance_uuid": None,
            "physical": True,
            "hardware": _hardware(PHYSICAL_SERVER, record),
            "disks": disks,
        }
    )
    record.save(layout)
    progress(f"physical server {PHYSICAL_SERVER.name}: its disks exist only in Azure (it fails back as a new VM)")


def _fill(path: Path, size: int, *, seed: int) -> None:
    """A source disk: ``_FILLED`` of its MiB chunks hold data (half random, half pattern), the rest is zero."""
    rng = random.Random(seed)  # noqa: S311 - disk contents, not secrets
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.truncate(size)
        for offset in range(0, size, MIB):
            if rng.random() < _FILLED:
                out.seek(offset)
                out.write(rng.randbytes(MIB // 2) + bytes([offset // MIB % 251]) * (MIB // 2))
        out.flush()
        os.fsync(out.fileno())


def _copy_sparse(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` chunk by chunk, leaving holes where the source is zero."""
    zero = bytes(MIB)
    with source.open("rb") as src, target.open("r+b") as dst:
        size = os.fstat(src.fileno()).st_size
        dst.truncate(0)
        dst.truncate(size)
        for offset in range(0, size, MIB):
            chunk = src.read(MIB)
            if chunk != zero[: len(chunk)]:
                dst.seek(offset)
                dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())


# -- 3. controller, shim, agents ------------------------------------------------------------------------------------


def _cli(module: str, *args: str, what: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=_CLI_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise LabError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _address(status: str, label: str, name: str) -> str:
    match = re.search(rf"{label} (\S+)", status)
    if match is None:
        raise LabError(f"{name} said it is ready without its {label} address: {status!r}")
    return str(parse_address(match.group(1)).local())


def _controller(layout: Layout, record: Record, progress: Progress) -> None:
    config = layout.controller / "controller.toml"
    layout.controller.mkdir(parents=True)
    config.write_text(
        f'[controller]\nstate_dir = "{layout.controller / "state"}"\n\n'
        '[server]\nlisten = "127.0.0.1:0"\nregistration_listen = "127.0.0.1:0"\ndrain_seconds = 5\n\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n'
    )
    operator = layout.ctl_config.parent
    _cli("controller", "init", "--config", str(config), "--operator-dir", str(operator), what="controller init")
    argv = [sys.executable, "-m", "controller", "serve", "--config", str(config)]
    status = _track(layout, record, start(layout, "controller", argv)).wait_ready(_READY)
    api = _address(status, "serving on", "the controller")
    registration = _address(status, "registration", "the controller")
    # init could not know the bound port (0 in the config): point failbackctl at it.
    text = layout.ctl_config.read_text()
    layout.ctl_config.write_text(re.sub(r'controller = ".*"', f'controller = "{api}"', text))
    record.controller = {
        "config": str(config),
        "api": api,
        "registration": registration,
        "failbackctl_config": str(layout.ctl_config),
    }
    record.save(layout)
    progress(f"controller serving on {api} (registration {registration})")


def _ctl(layout: Layout, *args: str, what: str) -> str:
    return _cli("controller.cli", "--config", str(layout.ctl_config), *args, what=what)


def _shim(layout: Layout, record: Record, progress: Progress) -> None:
    for name in record.master_targets:
        argv = [sys.executable, "-m", "lab.world", "shim", "--lab", str(layout.root), "--master-target", name]
        process = "shim" if name == MASTER_TARGET.name else f"shim-{name}"
        _track(layout, record, start(layout, process, argv)).wait_ready(_READY)
        progress(f"hypervisor shim following {name}: guest tree {layout.guest_of(name)}")


def _agents(layout: Layout, record: Record, progress: Progress) -> None:
    roles = [(PROCESS_SERVER, "process-server"), *((name, "master-target") for name in record.master_targets)]
    for name, role in roles:
        directory = layout.agent(name)
        directory.mkdir(parents=True)
        token = json.loads(_ctl(layout, "token", "create", "--role", role, "--output", "json", what="token create"))
        token_file = directory / "token"
        token_file.touch(mode=0o600)
        token_file.write_text(token["token"])
        state = directory / "state"
        try:
            _cli(
                "agent", "register", "--controller", record.controller["registration"], "--token-file",
                str(token_file), "--ca-fingerprint", token["ca_fingerprint"], "--name", name, "--state-dir",
                str(state), what=f"registering {name}",
            )  # fmt: skip
        finally:
            token_file.unlink()
        config = directory / "agent.toml"
        text = (
            f'[agent]\nstate_dir = "{state}"\n\n[server]\nlisten = "127.0.0.1:0"\ndrain_seconds = 5\n\n'
            '[metrics]\nlisten = "127.0.0.1:0"\n'
        )
        if role == "master-target":
            guest = layout.guest_of(name)
            layout.retention.mkdir(parents=True, exist_ok=True)
            text += f'\n[discovery]\nsysfs_root = "{guest}"\ndev_root = "{guest / "dev"}"\n'
            # The lab's retention "volume" is a directory of the lab, on whatever volume holds it (often the OS's):
            # a real master target refuses that, so the lab says it knows.
            text += "\n[replication]\ncheck_retention_volume = false\n"
        config.write_text(text)
        argv = [sys.executable, "-m", "agent", "serve", "--config", str(config)]
        status = _track(layout, record, start(layout, name, argv)).wait_ready(_READY)
        record.agents[name] = {
            "role": role,
            "config": str(config),
            "state_dir": str(state),
            "address": _address(status, "serving on", name),
            "metrics": _address(status, "metrics", name),
        }
        record.save(layout)
        progress(f"{role} {name} registered and serving on {record.agents[name]['address']}")


# -- 4. the Azure side ----------------------------------------------------------------------------------------------


def _azure(layout: Layout, record: Record, progress: Progress) -> None:
    from lab.world._azure import lab_id

    layout.azure.mkdir(parents=True, exist_ok=True)
    secret_file = layout.azure / "secret"
    secret_file.touch(mode=0o600)
    secret_file.write_text(secrets.token_urlsafe(24))
    record.azure = {
        "subscription_id": lab_id("subscription"),
        "resource_group": "rg-failback-lab",
        "vault": "vault-lab",
        "tenant_id": lab_id("tenant"),
        "client_id": lab_id("client"),
        "secret_file": str(secret_file),
        "ca_file": str(layout.azure / "tls" / "ca" / "ca.pem"),
    }
    record.save(layout)
    argv = [sys.executable, "-m", "lab.world", "azure", "--lab", str(layout.root)]
    status = _track(layout, record, start(layout, "azure", argv)).wait_ready(_READY)
    match = re.search(r"serving on (https://127\.0\.0\.1:\d+)", status)
    if match is None:
        raise LabError(f"the Azure endpoint said it is ready without its URL: {status!r}")
    record.azure["base_url"] = match.group(1)
    record.save(layout)
    progress(f"Azure endpoint serving on {record.azure['base_url']}; the workloads write through the tracker")


def _register_sources(layout: Layout, record: Record, progress: Progress) -> None:
    vc, azure = record.vcenter, record.azure
    _ctl(
        layout, "vcenter", "add", "lab-vcenter", "--address", f"{vc['host']}:{vc['port']}", "--user", vc["username"],
        "--ca-file", vc["ca_file"], "--password-file", vc["password_file"], "--refresh", "--wait",
        what="registering the simulator as a vCenter",
    )  # fmt: skip
    progress("vCenter lab-vcenter registered and its inventory read")
    _ctl(
        layout, "azure", "add", "lab-vault", "--subscription", azure["subscription_id"], "--resource-group",
        azure["resource_group"], "--vault", azure["vault"], "--tenant", azure["tenant_id"], "--client-id",
        azure["client_id"], "--secret-file", azure["secret_file"], "--endpoint", azure["base_url"], "--authority",
        azure["base_url"], "--ca-file", azure["ca_file"], "--import", "--wait",
        what="registering the local vault",
    )  # fmt: skip
    progress("vault lab-vault registered and its failed-over estate imported")
    _plan(layout, record)
    progress(f"failback plan written to {layout.plan} (failbackctl plan apply {layout.plan})")


def _plan(layout: Layout, record: Record) -> None:
    """The failback plan for the lab (``controller/workflows/_spec.py``): every VM back to its original location
    through the lab's master targets and ps-lab, each disk with the file and change log the process server reads."""
    ps = record.agents[PROCESS_SERVER]
    master_targets = ", ".join(f'"{name}"' for name in record.master_targets)
    lines = [
        'name = "lab"',
        'vault = "lab-vault"',
        'vcenter = "lab-vcenter"',
        f'datastore = "{record.vcenter["datastore"]["name"]}"',
        f'retention_volume = "{layout.retention}"',
        f"master_targets = [{master_targets}]",
        f'process_server = "{PROCESS_SERVER}"',
        'policy = "lab-failback-24h"',
        'run_as_account = "linux-root"',
        'rollback_window = "1h"',
    ]
    for name, mt in record.master_targets.items():
        lines += [
            "",
            "[[agents]]",
            f'name = "{name}"',
            'role = "master-target"',
            f'address = "{record.agents[name]["address"]}"',
            f'vm = "{mt["instance_uuid"]}"',
        ]
    lines += [
        "",
        "[[agents]]",
        f'name = "{PROCESS_SERVER}"',
        'role = "process-server"',
        f'address = "{ps["address"]}"',
    ]
    for index, vm in enumerate(record.vms):
        disks = ", ".join(
            f'{{ id = "{d["disk_id"]}", source = "{d["source"]}", change_log = "{d["change_log"]}" }}'
            for d in vm["disks"]
        )
        lines += [
            "",
            "[[vms]]",
            f'item = "{vm["name"]}"',
            'location = "auto"' if vm.get("physical") else 'location = "original"',
            f"boot_group = {_BOOT_GROUPS.get(vm['name'], 1)}",
            f"disks = [{disks}]",
            # The address each VM had on-premises, restored by guest customisation before it boots.
            f'ips = [{{ address = "10.10.5.{11 + index}", prefix = 24, gateways = ["10.10.5.1"] }}]',
        ]
    layout.plan.write_text("\n".join(lines) + "\n")


# -- down -----------------------------------------------------------------------------------------------------------


def down(layout: Layout, *, progress: Progress = _quiet) -> list[str]:
    """Stop every process of the lab and remove its directory; returns the names of the processes stopped."""
    if not layout.record.exists():
        if layout.root.exists() and not any(layout.root.iterdir()):
            layout.root.rmdir()
        raise LabNotFound(f"no lab in {layout.root}", remedy="give the lab's directory with --dir")
    try:
        record = read_record(layout)
    except (OSError, ValueError, TypeError) as exc:
        raise LabError(f"{layout.record} cannot be read: {exc}", remedy=f"remove {layout.root} by hand") from exc
    stopped = []
    for data in reversed(record.processes):
        proc = Proc.from_dict(data)
        if stop(proc):
            stopped.append(proc.name)
            progress(f"stopped {proc.name} (pid {proc.pid})")
    left = [Proc.from_dict(d).name for d in record.processes if alive(Proc.from_dict(d))]
    if left:
        raise LabError(f"{', '.join(left)} still run; the lab directory {layout.root} is kept")
    shutil.rmtree(layout.root)
    progress(f"removed {layout.root}")
    return stopped


def processes(record: Record) -> list[dict[str, Any]]:
    return [{**d, "running": alive(Proc.from_dict(d))} for d in record.processes]
