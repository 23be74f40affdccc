"""A step's per-item work side by side (``each``): every item is tried, results keep the items' order, and the first
failure in that order is what the step raises."""

from __future__ import annotations

import threading

import pytest

from controller.workflows._common import each
from controller.workflows.errors import NotEligible


def test_results_keep_the_order_of_the_items_whatever_order_they_finish_in() -> None:
    release = threading.Event()

    def act(item: int) -> int:
        if item == 0:
            release.wait(5)  # the first item finishes last
        elif item == 5:
            release.set()
        return item * 10

    assert each(list(range(6)), act, workers=6) == [0, 10, 20, 30, 40, 50]


def test_items_run_at_once_up_to_the_worker_count() -> None:
    barrier = threading.Barrier(3, timeout=5)

    def act(item: int) -> int:
        barrier.wait()  # breaks (and raises) unless three items run at the same time
        return item

    assert each([1, 2, 3], act, workers=3) == [1, 2, 3]


def test_every_item_is_tried_and_the_first_failure_in_item_order_is_raised() -> None:
    tried: list[str] = []
    guard = threading.Lock()

    def act(item: str) -> str:
        with guard:
            tried.append(item)
        if item in ("b", "d"):
            raise NotEligible(f"{item} is not ready")
        return item

    with pytest.raises(NotEligible, match="b is not ready"):
        each(["a", "b", "c", "d", "e"], act, workers=2)
    assert sorted(tried) == ["a", "b", "c", "d", "e"]
