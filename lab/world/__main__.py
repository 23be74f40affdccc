"""The lab's own processes: ``python -m lab.world shim|azure --lab DIR`` (a shim per master target:
``--master-target NAME``, mt-lab by default).

Each reads ``DIR/lab.json``, says ``READY=1`` over sd_notify once it serves, and stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from failback.logs import configure_logging
from failback.systemd import notify
from lab.world._layout import MASTER_TARGET, Layout, read_record

log = logging.getLogger("lab.world")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _shim(layout: Layout, master_target: str) -> int:
    from lab.world._guest import GuestSysfs
    from lab.world._shim import Shim, serve
    from lab.world._vsphere import VmWatcher, connect, datastore_urls, read_vms

    record = read_record(layout)
    if master_target not in (record.master_targets or {MASTER_TARGET.name: {}}):
        log.error("the lab has no master target %s", master_target)
        return 2
    vc = record.vcenter
    password = Path(vc["password_file"]).read_text()
    where = (vc["host"], vc["port"], vc["username"], password, Path(vc["ca_file"]))
    stop = _stop_on_signals()
    # Two sessions: rescans read synchronously on one while the watcher blocks in WaitForUpdatesEx on the other.
    with connect(*where) as si, connect(*where) as watch_si:
        guest = layout.guest_of(master_target)
        state = layout.shim_state_of(master_target)
        shim = Shim(GuestSysfs(guest), master_target, datastore_urls(si), lambda: read_vms(si), state)
        shim.boot()
        watcher = VmWatcher(watch_si)
        try:
            notify("READY=1", f"STATUS=shim for {master_target}: guest tree {guest}")
            serve(shim, watcher.wait, stop)
        finally:
            watcher.close()
    return 0


def _azure(layout: Layout) -> int:
    from lab.world._azure import AzureSide
    from lab.world._workload import WorkloadSettings

    record = read_record(layout)
    secret = Path(record.azure["secret_file"]).read_text()
    stop = _stop_on_signals()
    settings = WorkloadSettings(**record.workload) if record.workload else None
    side = AzureSide(record, layout, secret, settings)
    base_url = side.start()
    try:
        side.publish()
        notify("READY=1", f"STATUS=serving on {base_url}")
        while not stop.wait(1.0):
            side.publish()
            for workload in side.workloads:
                if workload.failed is not None:
                    log.error("the workload of %s failed: %s", workload.vm, workload.failed)
                    return 1
    finally:
        side.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.world", description="The lab's own processes.")
    parser.add_argument("process", choices=("shim", "azure"))
    parser.add_argument("--lab", type=Path, required=True, help="the lab directory (holds lab.json)")
    parser.add_argument("--master-target", default=MASTER_TARGET.name, help="shim: the master target it serves")
    args = parser.parse_args(argv)
    configure_logging()
    layout = Layout(args.lab)
    return _shim(layout, args.master_target) if args.process == "shim" else _azure(layout)


if __name__ == "__main__":
    sys.exit(main())
