"""What a doctor run covers: a plan, some VMs, or everything, resolved into sections of one plan each.

Plans resolve to their items exactly as the workflows resolve them (``Deps.scope``), so the doctor checks what a
reprotect or failover of that plan would touch. A VM in no plan is still checked (its vault state, its on-premises
VM); what needs a plan (master target, datastore) is then not checked for it. ``all`` adds the registered vCenters,
vaults and agents that no plan uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.doctor.errors import SelectionInvalid, UnknownTarget
from controller.store import ItemRow, PlanRow
from controller.workflows import Deps, PlanSpec, Scope, VmSpec
from failback.errors import FailbackError

__all__ = ["Section", "Selection", "resolve"]


@dataclass(frozen=True)
class Selection:
    plan: str | None = None
    vms: tuple[str, ...] = ()
    everything: bool = False

    def __post_init__(self) -> None:
        chosen = sum((self.plan is not None, bool(self.vms), self.everything))
        if chosen != 1:
            raise SelectionInvalid(
                "choose exactly one of a plan, some VMs, or everything", remedy="use --plan, --vm or --all"
            )

    @property
    def label(self) -> str:
        if self.plan is not None:
            return f"plan {self.plan}"
        if self.vms:
            return f"vms {', '.join(self.vms)}"
        return "all"


@dataclass(frozen=True)
class Section:
    """Facts are assembled and checked per section: one plan (or none) with its items, plus, for ``all``, the
    sources and agents no plan uses."""

    plan: PlanSpec | None
    items: tuple[tuple[ItemRow, VmSpec | None], ...] = ()
    vcenters: tuple[str, ...] = ()
    vaults: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()

    @classmethod
    def of(cls, scope: Scope) -> Section:
        return cls(scope.plan, tuple((row, vm) for row, vm in scope.items))


def _matches(row: ItemRow, name: str) -> bool:
    wanted = name.strip().rstrip("/").lower()
    return wanted in (row.name.lower(), row.key.lower(), str(row.asr.get("id", "")).rstrip("/").lower())


def resolve(
    selection: Selection,
    deps: Deps,
    *,
    vcenters: Sequence[str] = (),
    vaults: Sequence[str] = (),
    agents: Sequence[str] = (),
) -> tuple[list[Section], list[str]]:
    """Sections to check, and problems (plans that cannot be resolved). ``vcenters``, ``vaults`` and ``agents``
    are the registered ones, for ``all``."""
    if selection.plan is not None:
        return [Section.of(deps.scope({"plan": selection.plan}))], []
    items = deps.protection.items()
    if selection.vms:
        chosen: list[ItemRow] = []
        for name in selection.vms:
            found = [row for row in items if _matches(row, name)]
            if not found:
                raise UnknownTarget(
                    f"no protected item is named {name!r}", remedy="see 'failbackctl items' (import the vault first)"
                )
            if len(found) > 1:
                raise SelectionInvalid(
                    f"{name!r} names {len(found)} items (in vaults {', '.join(sorted(r.vault for r in found))})",
                    remedy="name the item by its ARM id",
                )
            chosen.extend(r for r in found if r.key not in {c.key for c in chosen})
    else:
        chosen = list(items)
    sections, problems = _plan_sections(deps, {row.key for row in chosen}, everything=selection.everything)
    planned = {row.key for section in sections for row, _ in section.items}
    loose = tuple((row, None) for row in chosen if row.key not in planned)
    if loose:
        sections.append(Section(None, loose))
    if selection.everything:
        used_vcenters = {s.plan.vcenter for s in sections if s.plan}
        used_vaults = {s.plan.vault for s in sections if s.plan} | {row.vault for row, _ in loose}
        used_agents = {a.name for s in sections if s.plan for a in s.plan.agents}
        sections.append(
            Section(
                None,
                vcenters=tuple(v for v in vcenters if v not in used_vcenters),
                vaults=tuple(v for v in vaults if v not in used_vaults),
                agents=tuple(a for a in agents if a not in used_agents),
            )
        )
    return sections, problems


def _plan_sections(deps: Deps, keys: set[str], *, everything: bool) -> tuple[list[Section], list[str]]:
    sections: list[Section] = []
    problems: list[str] = []
    plans: list[PlanRow] = [p for p in deps.protection.plans() if p.source == "file"]
    for plan in plans:
        try:
            scope = deps.scope({"plan": plan.name})
        except FailbackError as exc:
            if everything:
                problems.append(f"plan {plan.name} cannot be checked: {exc}")
            continue
        picked = tuple((row, vm) for row, vm in scope.items if row.key in keys)
        if picked or (everything and not scope.items):
            sections.append(Section(scope.plan, picked))
    return sections, problems
