"""Benchmark: a full inventory refresh of a 1,000-VM simulator, against naive per-VM property reads in the same run.

The adapter reads everything with one RetrievePropertiesEx over a container view; the baseline reads each VM's
properties one by one (name, config, runtime, guest, snapshot, datastore: one SOAP call each), as simple pyVmomi code
does, for a sample of VMs, extrapolated to all of them. Prints one JSON line. Target: <= 5 s, constant round-trips.

    /work/venv/bin/python scripts/bench/inventory.py [--vms-per-pool 500] [--sample 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from controller.vsphere import Credentials, connect
from lab.vcsim import Model, Simulator, build

NAIVE_PROPERTIES = ("name", "config", "runtime", "guest", "snapshot", "datastore")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms-per-pool", type=int, default=500, help="the model has two pools: 500 -> 1,000 VMs")
    parser.add_argument("--sample", type=int, default=50, help="VMs read one by one for the baseline")
    parser.add_argument("--runs", type=int, default=3, help="inventory refreshes; the median is reported")
    args = parser.parse_args()

    binary = build()
    started = time.perf_counter()
    with Simulator(Model(vms=args.vms_per_pool), binary=binary) as sim:
        start_seconds = time.perf_counter() - started
        credentials = Credentials(
            host=sim.host, port=sim.port, user=sim.username, password=sim.password, ca_file=sim.ca_file
        )
        with connect(credentials) as vc:
            times, trips, vms = [], [], 0
            for _ in range(args.runs):
                before = vc.round_trips
                began = time.perf_counter()
                inventory = vc.inventory()
                times.append(time.perf_counter() - began)
                trips.append(vc.round_trips - before)
                vms = len(inventory.vms)
        naive_seconds_per_vm, naive_trips_per_vm = _naive(sim, args.sample)

    bulk = statistics.median(times)
    naive_total = naive_seconds_per_vm * vms
    print(
        json.dumps(
            {
                "bench": "vsphere_inventory",
                "vms": vms,
                "bulk_seconds": round(bulk, 3),
                "bulk_seconds_runs": [round(t, 3) for t in times],
                "bulk_round_trips": trips[0],
                "round_trips_constant": len(set(trips)) == 1,
                "baseline": f"per-VM reads of {len(NAIVE_PROPERTIES)} properties, {args.sample} VMs, extrapolated",
                "naive_seconds_extrapolated": round(naive_total, 3),
                "naive_round_trips_extrapolated": naive_trips_per_vm * vms,
                "ratio_naive_over_bulk": round(naive_total / bulk, 1),
                "target_seconds": 5.0,
                "meets_target": bulk <= 5.0,
                "simulator_start_seconds": round(start_seconds, 2),
            }
        )
    )


def _naive(sim: Simulator, sample: int) -> tuple[float, int]:
    """Seconds and round-trips per VM when each VM's properties are read one at a time."""
    context = ssl.create_default_context(cafile=str(sim.ca_file))
    instance = SmartConnect(host=sim.host, port=sim.port, user=sim.username, pwd=sim.password, sslContext=context)
    try:
        content = instance.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        try:
            chosen = list(view.view)[:sample]
        finally:
            view.DestroyView()
        began = time.perf_counter()
        for vm in chosen:
            for prop in NAIVE_PROPERTIES:
                getattr(vm, prop)  # each access is one Fetch round-trip
        elapsed = time.perf_counter() - began
    finally:
        Disconnect(instance)
    return elapsed / len(chosen), len(NAIVE_PROPERTIES)


if __name__ == "__main__":
    main()
