"""``failbackctl lab up|status|down|drill``: a whole failback site on this machine, to try failback on first.

The only product module that imports the lab tooling (``lab.world``), and only inside the handlers, so failbackctl
works without it. ``--dir`` (default ``$FAILBACK_LAB_DIR``, else ``~/.local/state/failback/lab``) holds everything
the lab makes; ``lab down`` removes it.

JSON: ``lab up`` and ``lab status`` print the status document documented in ``lab/world/_status.py`` (schema 1);
``lab down`` prints ``{"dir": str, "stopped": [process name, ...]}``. ``lab status`` exits 1 when a process of the lab
is not running (``"state": "degraded"``), 0 when the lab is up. ``lab drill`` applies the lab's plan and runs doctor,
reprotect, replication under load, a planned failover with attestation, the oracle check, commit and reprotect back on
the lab, and prints the drill's document (``lab/world/_drill.py``) with ``--output json``; it exits 0 only when every
stage passed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from controller.cli._output import add_output_argument, emit, human_bytes

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = subparsers.add_parser("lab", help="a local failback lab: simulated vCenter and Azure, real agents")
    actions = lab.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, text in (
        ("up", _up, "start the lab: simulator, Azure endpoint, controller, agents, workloads"),
        ("status", _status, "every process, disk and bookmark of the lab, by path"),
        ("down", _down, "stop the lab and remove everything it made"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("--dir", type=Path, default=None, help="the lab's directory (default: see 'lab --help')")
        add_output_argument(parser)
        parser.set_defaults(handler=handler)
        if name == "up":
            parser.add_argument(
                "--physical", action="store_true", help="also a physical server, which fails back as a new VM"
            )
    drill = actions.add_parser("drill", help="the whole failback on the lab, checked against its oracle")
    drill.add_argument("--dir", type=Path, default=None, help="the lab's directory (default: see 'lab --help')")
    drill.add_argument(
        "--replicate-seconds", type=float, default=20.0, help="how long to replicate under load before failing over"
    )
    add_output_argument(drill)
    drill.set_defaults(handler=_drill)


def _layout(args: argparse.Namespace) -> Any:
    from lab.world import Layout, default_dir

    return Layout((args.dir or default_dir()).absolute())


def _up(args: argparse.Namespace) -> int:
    from lab.world import status, up

    layout = _layout(args)
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {message}", file=sys.stderr, flush=True)

    up(layout, progress=progress, physical=args.physical)
    document = status(layout)
    if args.output == "json":
        emit(args, document, [], [])
        return 0
    _print_status(args, document)
    print(f"\nThe lab is up ({time.monotonic() - started:.0f} s). To use failbackctl with it:")
    print(f"  export FAILBACKCTL_CONFIG={document['failbackctl_config']}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from lab.world import status

    document = status(_layout(args))
    if args.output == "json":
        emit(args, document, [], [])
    else:
        _print_status(args, document)
    return 0 if document["state"] == "up" else 1


def _down(args: argparse.Namespace) -> int:
    from lab.world import down

    layout = _layout(args)
    stopped = down(layout, progress=lambda message: print(message, file=sys.stderr, flush=True))
    emit(args, {"dir": str(layout.root), "stopped": stopped}, ["LAB", "STOPPED"], [[layout.root, ", ".join(stopped)]])
    return 0


def _doctor(layout: Any) -> Any:
    """A runner for ``failbackctl doctor`` on the lab's plan, as an operator runs it (a process)."""
    import subprocess

    def run() -> tuple[int, str]:
        argv = [sys.executable, "-m", "controller.cli", "--config", str(layout.ctl_config), "doctor", "--plan", "lab"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        return done.returncode, done.stdout + done.stderr

    return run


def _drill(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lab.world import DrillSettings, RichObserver, drill_table, run_drill

    layout = _layout(args)
    settings = DrillSettings(replicate_seconds=args.replicate_seconds, doctor=_doctor(layout))
    # Not a terminal (a log, CI): wide enough for the final table on one line per VM.
    stream = sys.stderr if args.output == "json" else sys.stdout
    console = Console(stderr=args.output == "json", highlight=False, width=None if stream.isatty() else 120)
    console.print(f"[bold]failback lab drill[/] in {layout.root}")
    with RichObserver(console) as observer:
        document = run_drill(layout, settings, observer)
    if args.output == "json":
        emit(args, document, [], [])
    else:
        console.print()
        console.print(drill_table(document))
        verdict = "[green]passed[/]" if document["ok"] else f"[red]failed[/]: {document['error']}"
        console.print(f"\nThe drill {verdict} in {document['seconds']:.0f} s.")
    return 0 if document["ok"] else 1


def _print_status(args: argparse.Namespace, document: dict[str, Any]) -> None:
    print(f"lab {document['dir']}: {document['state']}")
    emit(
        args,
        None,
        ["PROCESS", "PID", "RUNNING", "LOG"],
        [[p["name"], p["pid"], "yes" if p["running"] else "NO", p["log"]] for p in document["processes"]],
    )
    rows = []
    for vm in document["vms"]:
        last = next((b for b in reversed(vm["bookmarks"]) if b["kind"] == "app"), None)
        # A physical server has no on-premises disk until failback makes its new VM.
        onprem_disks = vm["onprem"]["disks"] or [None] * len(vm["azure"]["disks"])
        for source, onprem in zip(vm["azure"]["disks"], onprem_disks, strict=True):
            rows.append(
                [
                    vm["name"],
                    source["disk_id"],
                    human_bytes(source["size_bytes"]),
                    source["path"],
                    onprem["path"] if onprem else "(physical: a new VM at failback)",
                    (onprem["attached_to"] if onprem else None) or "-",
                    last["tag"] if last else "-",
                ]
            )
    print()
    emit(args, None, ["VM", "DISK", "SIZE", "SOURCE (AZURE)", "VMDK EXTENT (ON-PREM)", "ATTACHED TO", "LAST APP"], rows)
    devices = document["master_target"]["devices"]
    print()
    emit(
        args,
        None,
        ["MASTER TARGET DEVICE", "HCTL", "DISK", "FILE"],
        [[d["path"], d["hctl"], d["disk_id"], d["file"]] for d in devices],
    )
