"""How the drill looks in a terminal: a line per stage as it ends, live progress bars while it runs (the current
job's steps, each VM's sync or RPO), and the final table. Rendering only; the drill itself is ``_drill``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from lab.world._drill import Observer, VmFigures

__all__ = ["RichObserver", "final_table"]

_MARKS = {"ok": "[green]✓[/]", "failed": "[red]✗[/]"}


class RichObserver(Observer):
    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._job: TaskID | None = None
        self._vms: dict[str, TaskID] = {}
        self._number = 0

    def __enter__(self) -> RichObserver:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _clear(self) -> None:
        for task in [self._job, *self._vms.values()]:
            if task is not None:
                self.progress.remove_task(task)
        self._job, self._vms = None, {}

    def stage(self, name: str, title: str) -> None:
        self._number += 1
        self._job = self.progress.add_task(f"[bold]{self._number}. {title}", total=100.0, detail="")

    def stage_done(self, name: str, state: str, detail: str) -> None:
        self._clear()
        self.console.print(f"{_MARKS.get(state, state)} [bold]{self._number}. {name}[/]  {detail}", highlight=False)

    def job(self, document: dict[str, Any]) -> None:
        if self._job is None:
            return
        step = next((s for s in document["steps"] if s["name"] == document["current_step"]), None)
        detail = f"job {document['id']}"
        if step is not None:
            note = (step["last_error"] and f"waiting: {step['last_error']}") or step["message"] or ""
            detail += f" · {step['title']}" + (f" · {note[:70]}" if note else "")
        self.progress.update(self._job, completed=document["percent"], detail=detail)

    def vms(self, phase: str, figures: dict[str, VmFigures], progress: dict[str, float]) -> None:
        for name, fraction in progress.items():
            f = figures[name]
            if phase == "reprotect":
                detail = f"{_mib(f.plain_sent)} sent" + (
                    f" · synced in {f.sync_seconds:.1f} s" if f.sync_seconds else ""
                )
            else:
                detail = f"RPO {f.rpo_last:.1f} s" if f.rpo_last is not None else "RPO -"
                if self._job is not None:
                    self.progress.update(self._job, completed=100 * fraction, detail="the workloads write")
            if name not in self._vms:
                self._vms[name] = self.progress.add_task(f"   {name}", total=1.0, detail="")
            self.progress.update(self._vms[name], completed=fraction, detail=detail)


def final_table(document: dict[str, Any]) -> Table:
    """Per VM: what moved (plain, and on the wire after compression), how long its disks took to sync, the worst RPO
    seen while replicating under load, the point it failed over to, and the two verdicts."""
    table = Table(title="failback lab drill", title_justify="left")
    for column, justify in (
        ("VM", "left"),
        ("DISKS", "right"),
        ("SENT", "right"),
        ("WIRE", "right"),
        ("SYNCED IN", "right"),
        ("RPO", "right"),
        ("POINT", "left"),
        ("ATTESTATION", "left"),
        ("ORACLE", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for vm in document["vms"]:
        table.add_row(
            vm["name"],
            f"{vm['disks']} ({vm['size_bytes'] >> 20} MiB)",
            _mib(vm["plain_sent"]),
            _mib(vm["wire_sent"]),
            f"{vm['sync_seconds']:.1f} s" if vm["sync_seconds"] is not None else "-",
            f"{vm['rpo_worst']:.1f} s" if vm["rpo_worst"] is not None else "-",
            vm["point_tag"] or "-",
            vm["attestation"],
            vm["oracle"],
        )
    return table


def _mib(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB"
