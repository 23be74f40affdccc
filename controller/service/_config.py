"""``controller.toml``: every key, its default, and the checks that name a bad key.

::

    [controller]
    name = "controller"                          # identity: <name>.controller.failback.internal
    state_dir = "/var/lib/failback-controller"   # CA, TLS identity, SQLite database
    database_url = "postgresql://db/failback"    # optional; default SQLite in state_dir

    [server]
    listen = "0.0.0.0:9440"                      # mutual TLS: agents and operators
    registration_listen = "0.0.0.0:9441"         # TLS without client certificates: Register only
    advertise = ["controller.example.com"]       # extra names/addresses in the controller's certificate
    drain_seconds = 30

    [metrics]
    listen = "127.0.0.1:9465"

    [certificates]
    agent_lifetime = "7d"

    [agents]
    heartbeat_interval = "30s"                   # how often agents report (they are told in every answer)
    stale_after = "90s"                          # an agent silent this long shows as "stale"

    [jobs]
    workers = 4                                  # jobs run at once by this controller
    lease = "30s"                                # a dead replica's jobs move to another after this long
    poll_interval = "1s"                         # how often due jobs (retries, other replicas' jobs) are looked for
    plugins = []                                 # modules whose job_types() adds job types (tests, extensions)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.store import Database
from failback.config import Address, Table, load_toml
from failback.identity import Identity, IdentityError, Role

__all__ = ["ControllerConfig", "load_config"]

DEFAULT_STATE_DIR = Path("/var/lib/failback-controller")


@dataclass(frozen=True)
class ControllerConfig:
    name: str
    state_dir: Path
    database_url: str
    listen: Address
    registration_listen: Address
    advertise: tuple[str, ...]
    drain_seconds: float
    metrics_listen: Address
    agent_lifetime: dt.timedelta
    heartbeat_interval: dt.timedelta = dt.timedelta(seconds=30)
    stale_after: dt.timedelta = dt.timedelta(seconds=90)
    job_workers: int = 4
    job_lease: dt.timedelta = dt.timedelta(seconds=30)
    job_poll_interval: dt.timedelta = dt.timedelta(seconds=1)
    job_plugins: tuple[str, ...] = ()

    @property
    def identity(self) -> Identity:
        return Identity(Role.CONTROLLER, self.name)


def load_config(path: Path) -> ControllerConfig:
    return parse_config(load_toml(path), str(path))


def parse_config(data: dict[str, Any], source: str) -> ControllerConfig:
    with Table(source, data) as root:
        with root.table("controller") as controller:
            name = controller.string("name", "controller")
            try:
                Identity(Role.CONTROLLER, name)
            except IdentityError as exc:
                raise controller.error("name", str(exc)) from exc
            state_dir = controller.path("state_dir", DEFAULT_STATE_DIR)
            database_url = controller.optional_string("database_url")
        with root.table("server") as server:
            listen = server.address("listen", "0.0.0.0:9440")
            registration_listen = server.address("registration_listen", "0.0.0.0:9441")
            advertise = server.strings("advertise")
            drain = server.duration("drain_seconds", "30s")
        with root.table("metrics") as metrics:
            metrics_listen = metrics.address("listen", "127.0.0.1:9465")
        with root.table("certificates") as certificates:
            agent_lifetime = certificates.duration("agent_lifetime", "7d")
            if not dt.timedelta(hours=1) <= agent_lifetime <= dt.timedelta(days=90):
                raise certificates.error("agent_lifetime", "expected between 1h and 90d")
        with root.table("agents") as agents:
            heartbeat_interval = agents.duration("heartbeat_interval", "30s")
            if not dt.timedelta(seconds=1) <= heartbeat_interval <= dt.timedelta(hours=1):
                raise agents.error("heartbeat_interval", "expected between 1s and 1h")
            stale_after = agents.duration("stale_after", f"{3 * heartbeat_interval.total_seconds():g}s")
            if stale_after <= heartbeat_interval:
                raise agents.error("stale_after", "must be longer than heartbeat_interval")
        with root.table("jobs") as jobs:
            job_workers = jobs.integer("workers", 4, minimum=1, maximum=64)
            job_lease = jobs.duration("lease", "30s")
            if job_lease < dt.timedelta(seconds=1):
                raise jobs.error("lease", "expected at least 1s")
            job_poll_interval = jobs.duration("poll_interval", "1s")
            job_plugins = jobs.strings("plugins")
    return ControllerConfig(
        name=name,
        state_dir=state_dir,
        database_url=database_url or Database.sqlite_in(state_dir),
        listen=listen,
        registration_listen=registration_listen,
        advertise=advertise,
        drain_seconds=drain.total_seconds(),
        metrics_listen=metrics_listen,
        agent_lifetime=agent_lifetime,
        heartbeat_interval=heartbeat_interval,
        stale_after=stale_after,
        job_workers=job_workers,
        job_lease=job_lease,
        job_poll_interval=job_poll_interval,
        job_plugins=job_plugins,
    )
