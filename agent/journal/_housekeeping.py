"""Housekeeping of one pair: space on the retention volume, pruning by policy or under pressure, health as data.

Called by PairJournal (append checks space; the background applier prunes every housekeeping interval). Pruning
writes its catalog record before it deletes any undo segment, and never drops the newest published point.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from agent.journal import _catalog as cat
from agent.journal._types import Health, HealthState
from agent.journal.errors import RetentionFull

if TYPE_CHECKING:
    from agent.journal._engine import PairJournal

__all__ = ["disk_usage", "ensure_space", "health", "prune"]


def disk_usage(path: str) -> tuple[int, int]:
    usage = shutil.disk_usage(path)
    return usage.total, usage.used


def ensure_space(engine: PairJournal, incoming: int) -> None:
    capacity, used = engine._space(engine.directory)
    limit = capacity * engine.policy.threshold_pct / 100
    if used + incoming <= limit:
        engine._full_reason = None
        return
    # Free a margin of 5% of the volume beyond what this batch needs, so the next appends do not prune again.
    _, unlinked = prune(engine, None, int(used + incoming - limit + capacity * 0.05))
    before = used
    capacity, used = engine._space(engine.directory)
    # xfs returns unlinked space in the background (deferred inode inactivation): count what was unlinked.
    used = min(used, before - unlinked)
    if used + incoming <= limit:
        engine._full_reason = None
        return
    engine._full_reason = (
        f"retention volume of {engine.directory} is {100 * used / capacity:.1f}% used "
        f"(threshold {engine.policy.threshold_pct:g}%) and pruning freed too little; acknowledgements are paused"
    )
    raise RetentionFull(
        engine._full_reason,
        retry_after=1.0,
        remedy="add space to the retention volume, move other data off it, or raise the threshold",
    )


def prune(engine: PairJournal, now: float | None, need_bytes: int) -> tuple[list[str], int]:
    """Returns the ids removed and the bytes unlinked (the file system may report them free a little later)."""
    with engine._apply_lock:
        if engine.state.failover is not None or engine._failed is not None:
            return [], 0
        unlinked = 0
        if need_bytes:
            engine.apply_pending()
            try:
                unlinked += engine.wal.drop_applied(engine.state.applied_seq, force=True)
            except OSError as exc:
                raise engine._fail(f"dropping applied redo segments failed: {exc}") from exc
        published = list(engine.state.points.values())
        if not published:
            return [], unlinked
        keep = engine.policy.keep(published, engine.clock() if now is None else now) | {published[-1].id}
        removed = [p.id for p in published if p.id not in keep]
        kept = [p for p in published if p.id in keep]
        freed = 0
        # Beyond the policy only if the operator chose a hard limit over back-pressure (Zerto's journal hard limit).
        while need_bytes and engine.policy.shorten_when_full and len(kept) > 1 and freed < need_bytes:
            removed.append(kept.pop(0).id)
            freed = sum(size for n, size in engine.undo.sizes.items() if n < kept[0].undo[0])
            engine._shortened = (
                f"retention shortened to {len(kept)} point(s) because the retention volume reached its threshold"
            )
        floor = min(p.undo[0] for p in kept)
        if not removed and floor <= engine.state.undo_floor:
            return [], unlinked
        record = {"removed": removed, "undo_floor": floor}
        try:
            engine.state.replay(cat.PRUNED, record)
            engine.catalog.record(cat.PRUNED, record, engine.state)
            unlinked += engine.undo.delete_before(floor)
        except OSError as exc:
            raise engine._fail(f"pruning failed: {exc}") from exc
        return removed, unlinked


def health(engine: PairJournal) -> Health:
    """Health as data: ERROR for failures and back-pressure, WARNING for RPO and shortened retention."""
    errors: list[str] = []
    warnings: list[str] = []
    if engine.needs_verify:
        errors.append(f"a durable operation failed ({engine.needs_verify}); verify or resync the target")
    if engine._full_reason:
        errors.append(engine._full_reason)
    if engine._shortened:
        warnings.append(engine._shortened)
    if engine._ever_consistent and not engine.state.committed:
        points = engine.points()
        if points:
            rpo = engine.clock() - max(p.time for p in points)
            if rpo > engine.policy.rpo_threshold:
                warnings.append(f"RPO {rpo:.0f} s exceeds the threshold of {engine.policy.rpo_threshold:.0f} s")
    if errors:
        return Health(HealthState.ERROR, tuple(errors + warnings))
    return Health(HealthState.WARNING if warnings else HealthState.OK, tuple(warnings))
