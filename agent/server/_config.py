"""``agent.toml``: every key, its default, and the checks that name a bad key.

::

    [agent]
    state_dir = "/var/lib/failback-agent"   # registration, TLS identity, revocation list

    [server]
    listen = "0.0.0.0:9443"                 # mutual TLS only; there is no plaintext listener
    drain_seconds = 30                      # how long in-flight streams may finish on SIGTERM
    max_workers = 64                        # concurrent RPCs (each replication stream holds one)

    [metrics]
    listen = "127.0.0.1:9464"               # Prometheus; loopback unless you choose otherwise

    [certificates]
    check_interval = "5m"                   # renewal and revocation-list refresh

    [discovery]
    sysfs_root = "/sys-of-another-tree"     # optional: read disks from another sysfs tree (containers, tests)
    dev_root = "/dev-of-that-tree"          # optional, with sysfs_root: where that tree's device nodes are

    [controller]
    address = "controller.example:9440"     # optional: where the controller is now, if not where the agent
                                            # registered (it is still verified by its identity name, not its address)

    [replication]
    allow_path_targets = false              # master target: pairs may name their target disk by path (lab, tests)
    check_retention_volume = true           # master target: a pair's retention_dir must be on an eligible volume
    decode_threads = 2                      # master target: block decode/verify threads shared by all streams
    bandwidth = 0                           # process server: bytes/s for all pairs together, shared fairly; 0: none
    encode_threads = 2                      # process server: compression threads shared by all pairs
    window_bytes = 33554432                 # process server: unacknowledged bytes in flight per pair
    send_log = "index"                      # process server: "index" (read the source again after a reconnect)
                                            # or "backlog" (keep every batch until acknowledged)

    [azure]                                 # process server: how AZURE_SNAPSHOTS pairs reach Azure (optional)
    identity = "managed-identity"           # or "service-principal"
    client_id = "..."                       # service principal: its application id; managed identity: a
                                            # user-assigned identity's client id (optional)
    tenant = "..."                          # service principal: its Entra ID tenant
    client_secret_file = "/etc/failback/azure-client-secret"
                                            # service principal: the secret is the file's first line; the file
                                            # must be owned by the agent's user, mode 0600 (never put the secret here)
    authority = "https://login.microsoftonline.com"   # optional: Entra ID's host (sovereign clouds, labs)
    endpoint = "https://management.azure.com"         # optional: Azure Resource Manager
    ca_bundle = "/etc/failback/azure-ca.pem"          # optional: CA certificates for Azure's endpoints
    lab_min_interval = "2s"                 # lab endpoints only: shortest snapshot interval (instead of Azure's)

See docs/azure-snapshots.md for the roles the identity needs.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from failback.config import Address, Table, load_toml, parse_address, parse_duration

__all__ = ["AgentConfig", "AzureSettings", "ReplicationConfig", "load_config", "parse_config"]

DEFAULT_STATE_DIR = Path("/var/lib/failback-agent")


@dataclass(frozen=True)
class ReplicationConfig:
    allow_path_targets: bool = False
    check_retention_volume: bool = True
    decode_threads: int = 2
    bandwidth: int | None = None
    encode_threads: int = 2
    window_bytes: int = 32 << 20
    send_log: str = "index"


@dataclass(frozen=True)
class AzureSettings:
    """``[azure]``: the process server's identity in Azure (``identity`` "managed-identity" or "service-principal")
    and where Azure is. The client secret stays in its file; only its path is held here."""

    identity: str
    client_id: str | None = None
    tenant: str | None = None
    client_secret_file: Path | None = None
    authority: str | None = None
    endpoint: str = "https://management.azure.com"
    ca_bundle: Path | None = None
    lab_min_interval: float | None = None


@dataclass(frozen=True)
class AgentConfig:
    state_dir: Path
    listen: Address
    drain_seconds: float
    max_workers: int
    metrics_listen: Address
    check_interval: float
    sysfs_root: Path | None = None
    dev_root: Path | None = None
    controller_address: str | None = None
    replication: ReplicationConfig = ReplicationConfig()
    azure: AzureSettings | None = None


def load_config(path: Path) -> AgentConfig:
    return parse_config(load_toml(path), str(path))


def parse_config(data: dict[str, Any], source: str) -> AgentConfig:
    with Table(source, data) as root:
        with root.table("agent") as agent:
            state_dir = agent.path("state_dir", DEFAULT_STATE_DIR)
        with root.table("server") as server:
            listen = server.address("listen", "0.0.0.0:9443")
            drain = server.duration("drain_seconds", "30s")
            max_workers = server.integer("max_workers", 64, minimum=4, maximum=1024)
        with root.table("metrics") as metrics:
            metrics_listen = metrics.address("listen", "127.0.0.1:9464")
        with root.table("certificates") as certificates:
            check_interval = certificates.duration("check_interval", "5m")
        with root.table("discovery") as discovery:
            sysfs_root = discovery.optional_string("sysfs_root")
            if sysfs_root is not None and not sysfs_root.startswith("/"):
                raise discovery.error("sysfs_root", f"expected an absolute path, got {sysfs_root!r}")
            dev_root = discovery.optional_string("dev_root")
            if dev_root is not None and not dev_root.startswith("/"):
                raise discovery.error("dev_root", f"expected an absolute path, got {dev_root!r}")
            if dev_root is not None and sysfs_root is None:
                raise discovery.error("dev_root", "needs sysfs_root: the live /sys describes the live /dev")
        with root.table("controller") as controller:
            controller_address = controller.optional_string("address")
            if controller_address is not None:
                try:
                    parse_address(controller_address, allow_zero_port=False)
                except ValueError as exc:
                    raise controller.error("address", str(exc)) from exc
        with root.table("replication") as table:
            replication = ReplicationConfig(
                allow_path_targets=table.boolean("allow_path_targets", False),
                check_retention_volume=table.boolean("check_retention_volume", True),
                decode_threads=table.integer("decode_threads", 2, minimum=1, maximum=64),
                bandwidth=table.integer("bandwidth", 0, minimum=0, maximum=10**12) or None,
                encode_threads=table.integer("encode_threads", 2, minimum=1, maximum=64),
                window_bytes=table.integer("window_bytes", 32 << 20, minimum=1 << 20, maximum=1 << 30),
                send_log=table.string("send_log", "index", choices=frozenset({"index", "backlog"})),
            )
        azure = _azure(root.table("azure")) if "azure" in data else None
    return AgentConfig(
        state_dir=state_dir,
        listen=listen,
        drain_seconds=drain.total_seconds(),
        max_workers=max_workers,
        metrics_listen=metrics_listen,
        check_interval=check_interval.total_seconds(),
        sysfs_root=Path(sysfs_root) if sysfs_root else None,
        dev_root=Path(dev_root) if dev_root else None,
        controller_address=controller_address,
        replication=replication,
        azure=azure,
    )


def _https(table: Table, key: str) -> str | None:
    value = table.optional_string(key)
    if value is not None and not value.startswith("https://"):
        raise table.error(key, f"expected an https:// URL, got {value!r}")
    return value


def _azure(table: Table) -> AzureSettings:
    with table:
        identity = table.string(
            "identity", "managed-identity", choices=frozenset({"managed-identity", "service-principal"})
        )
        client_id = table.optional_string("client_id")
        tenant = table.optional_string("tenant")
        secret_file = table.optional_string("client_secret_file")
        authority = _https(table, "authority")
        endpoint = _https(table, "endpoint") or "https://management.azure.com"
        ca_bundle = table.optional_string("ca_bundle")
        lab_min_interval = _optional_duration(table, "lab_min_interval")
        if identity == "service-principal":
            for key, value in (("tenant", tenant), ("client_id", client_id), ("client_secret_file", secret_file)):
                if value is None:
                    raise table.error(key, 'is required with identity = "service-principal"')
            assert secret_file is not None
            _check_secret_file(table, "client_secret_file", secret_file)
        else:
            for key, value in (("tenant", tenant), ("client_secret_file", secret_file)):
                if value is not None:
                    raise table.error(
                        key, 'is only for identity = "service-principal" (a managed identity has no secret)'
                    )
        if ca_bundle is not None:
            if not ca_bundle.startswith("/"):
                raise table.error("ca_bundle", f"expected an absolute path, got {ca_bundle!r}")
            if not os.path.isfile(ca_bundle):
                raise table.error("ca_bundle", f"{ca_bundle} is not a file")
    return AzureSettings(
        identity=identity,
        client_id=client_id,
        tenant=tenant,
        client_secret_file=Path(secret_file) if secret_file else None,
        authority=authority,
        endpoint=endpoint,
        ca_bundle=Path(ca_bundle) if ca_bundle else None,
        lab_min_interval=lab_min_interval.total_seconds() if lab_min_interval is not None else None,
    )


def _check_secret_file(table: Table, key: str, path: str) -> None:
    """The secret file exists, is a regular file of this user, and nobody else may read or change it. It is not read
    here (the credential reads it at the edge)."""
    if not path.startswith("/"):
        raise table.error(key, f"expected an absolute path, got {path!r}")
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        raise table.error(key, f"{path} does not exist; write the client secret into it (mode 0600)") from None
    except OSError as exc:
        raise table.error(key, f"{path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise table.error(key, f"{path} is not a regular file (symbolic links are refused)")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise table.error(
            key, f"{path} has mode {stat.S_IMODE(info.st_mode):o}; others may read it: run chmod 600 {path}"
        )
    if info.st_uid != os.geteuid():
        raise table.error(key, f"{path} belongs to uid {info.st_uid}, not the agent's user (uid {os.geteuid()})")
    if not os.access(path, os.R_OK):
        raise table.error(key, f"{path}: the agent cannot read it")


def _optional_duration(table: Table, key: str) -> dt.timedelta | None:
    value = table.optional_string(key)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise table.error(key, str(exc)) from exc
