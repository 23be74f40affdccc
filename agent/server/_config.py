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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from failback.config import Address, Table, load_toml, parse_address

__all__ = ["AgentConfig", "ReplicationConfig", "load_config", "parse_config"]

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
    )
