"""Flow control: the shared bandwidth limiter (rate and fairness, in simulated time), the in-flight window and the
progress counters."""

from __future__ import annotations

import threading

import pytest

from agent.dataplane import (
    BandwidthLimiter,
    Bookmark,
    BookmarkKind,
    EncodedBatch,
    InflightWindow,
    ProgressRecorder,
    encode_block,
)
from failback.errors import DeadlineExceeded

from ._helpers import SimulatedClock

MB = 1_000_000


def run(limiter: BandwidthLimiter, clock: SimulatedClock, sizes: dict[str, int], seconds: float) -> dict[str, int]:
    """Every pair keeps one request waiting at all times (as a blocked sender does); returns bytes granted."""
    granted = dict.fromkeys(sizes, 0)
    tickets = {pair: limiter.request(pair, size) for pair, size in sizes.items()}
    end = clock.now + seconds
    while clock.now < end:
        delay = limiter.poll()
        for pair, ticket in list(tickets.items()):
            if ticket.granted:
                granted[pair] += ticket.nbytes
                tickets[pair] = limiter.request(pair, sizes[pair])
        if delay is not None:
            assert delay > 0
            clock.advance(delay)
    return granted


def test_rate_is_held_over_time():
    clock = SimulatedClock()
    limiter = BandwidthLimiter(50 * MB, burst=1 << 20, clock=clock)
    granted = run(limiter, clock, {"a": 1 << 20}, 10.0)
    assert 10 * 50 * MB <= granted["a"] <= 10 * 50 * MB + 2 * (1 << 20)  # rate x time, plus burst and one debt


def test_pairs_share_the_rate_equally_in_bytes_whatever_their_batch_sizes():
    clock = SimulatedClock()
    limiter = BandwidthLimiter(30 * MB, clock=clock)
    sizes = {"big": 1 << 20, "medium": 256 << 10, "small": 64 << 10}
    granted = run(limiter, clock, sizes, 20.0)
    total = sum(granted.values())
    assert total == pytest.approx(20 * 30 * MB, rel=0.01)
    for pair in sizes:
        assert granted[pair] == pytest.approx(total / 3, abs=2 << 20)


def test_an_idle_pair_cannot_bank_credit():
    clock = SimulatedClock()
    limiter = BandwidthLimiter(10 * MB, clock=clock)
    run(limiter, clock, {"busy": 1 << 20}, 10.0)  # "late" was idle all this time
    granted = run(limiter, clock, {"busy": 1 << 20, "late": 1 << 20}, 10.0)
    assert granted["busy"] == pytest.approx(granted["late"], abs=2 << 20)


def test_rate_can_change_at_run_time():
    clock = SimulatedClock()
    limiter = BandwidthLimiter(10 * MB, clock=clock)
    slow = run(limiter, clock, {"a": 256 << 10}, 10.0)["a"]
    limiter.set_rate(40 * MB)
    fast = run(limiter, clock, {"a": 256 << 10}, 10.0)["a"]
    assert fast == pytest.approx(4 * slow, rel=0.05)
    limiter.set_rate(None)
    ticket = limiter.request("a", 1 << 30)
    assert limiter.poll() is None
    assert ticket.granted


def test_invalid_rates_are_refused():
    with pytest.raises(ValueError, match="positive"):
        BandwidthLimiter(0)
    with pytest.raises(ValueError, match="positive"):
        BandwidthLimiter(10).set_rate(-5)


def test_acquire_waits_for_tokens_in_simulated_time():
    clock = SimulatedClock()
    limiter = BandwidthLimiter(1 * MB, burst=1 * MB, clock=clock)
    start = clock.now
    for _ in range(5):
        limiter.acquire("a", MB)
    # 5 MB at 1 MB/s: one megabyte comes from the burst and one from the one-request debt the bucket allows.
    assert clock.now - start == pytest.approx(3.0, abs=0.01)
    assert limiter.granted_bytes("a") == 5 * MB


def test_acquire_gives_up_at_its_deadline_and_withdraws_the_request():
    clock = SimulatedClock()
    limiter = BandwidthLimiter(1 * MB, burst=1 * MB, clock=clock)
    limiter.acquire("a", 3 * MB)  # into debt by 2 MB: the next grant is two seconds away
    with pytest.raises(DeadlineExceeded):
        limiter.acquire("b", MB, timeout=0.5)
    assert limiter.poll() is None  # nothing left waiting
    assert limiter.granted_bytes("b") == 0


def test_blocking_acquire_from_many_threads_grants_every_request():
    limiter = BandwidthLimiter(2000 * MB, burst=1 << 20)

    def sender(pair: str) -> None:
        for _ in range(20):
            limiter.acquire(pair, 1 << 20, timeout=30)

    threads = [threading.Thread(target=sender, args=(f"p{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [limiter.granted_bytes(f"p{i}") for i in range(4)] == [20 << 20] * 4


# -- in-flight window -------------------------------------------------------------------------------------------


def test_window_admits_until_full_and_releases_on_acknowledgement():
    clock = SimulatedClock()
    window = InflightWindow(max_bytes=3 << 20, max_batches=10, clock=clock)
    for seq in (1, 2, 3):
        window.acquire(seq, 1 << 20, timeout=0)
    with pytest.raises(DeadlineExceeded):
        window.acquire(4, 1 << 20, timeout=1.0)
    assert window.acknowledge(2) == 2 << 20
    window.acquire(4, 1 << 20, timeout=0)
    assert (window.outstanding_batches, window.outstanding_bytes) == (2, 2 << 20)


def test_window_limits_the_number_of_batches():
    window = InflightWindow(max_bytes=1 << 30, max_batches=2, clock=SimulatedClock())
    window.acquire(1, 10)
    window.acquire(2, 10)
    with pytest.raises(DeadlineExceeded):
        window.acquire(3, 10, timeout=0.1)


def test_a_batch_larger_than_the_window_passes_when_nothing_is_outstanding():
    window = InflightWindow(max_bytes=1 << 20, clock=SimulatedClock())
    window.acquire(1, 8 << 20, timeout=0)
    with pytest.raises(DeadlineExceeded):
        window.acquire(2, 1, timeout=0.1)


def test_a_blocked_sender_resumes_when_the_ack_arrives():
    window = InflightWindow(max_bytes=1 << 20)
    window.acquire(1, 1 << 20)
    done = threading.Event()

    def sender() -> None:
        window.acquire(2, 1 << 20, timeout=30)
        done.set()

    thread = threading.Thread(target=sender)
    thread.start()
    assert not done.wait(0.05)
    window.acknowledge(1)
    thread.join(30)
    assert done.is_set()


def test_window_reset_forgets_everything_and_sequence_must_grow():
    window = InflightWindow(clock=SimulatedClock())
    window.acquire(5, 100)
    with pytest.raises(ValueError, match="not after"):
        window.acquire(5, 100)
    window.reset()
    assert window.outstanding_batches == 0
    window.acquire(5, 100)


# -- progress ---------------------------------------------------------------------------------------------------


def encoded(seq: int, captured_at: float) -> EncodedBatch:
    block = encode_block(0, b"x" * 8192)
    return EncodedBatch(seq, (block, Bookmark("b", BookmarkKind.CRASH, None, None, 1.0)), seq, captured_at)


def test_progress_counts_bytes_backlog_and_lag():
    now = [100.0]
    progress = ProgressRecorder("pair-1", 2, clock=lambda: now[0])
    progress.sent(encoded(1, 90.0))
    progress.sent(encoded(2, 95.0))
    progress.queued(encoded(3, 97.0))
    snap = progress.snapshot()
    assert (snap.plain_bytes_sent, snap.last_sent_seq, snap.backlog_batches) == (16384, 2, 3)
    assert snap.lag_seconds == 10.0
    assert snap.wire_bytes_sent < snap.plain_bytes_sent
    progress.acknowledged(2)
    snap = progress.snapshot()
    assert (snap.plain_bytes_acknowledged, snap.acknowledged_seq, snap.backlog_batches, snap.lag_seconds) == (
        16384,
        2,
        1,
        3.0,
    )
    progress.acknowledged(3)
    assert progress.snapshot().lag_seconds == 0.0


def test_progress_records_resync_percent_and_the_last_error():
    progress = ProgressRecorder("pair-1", 1, clock=lambda: 5.0)
    assert progress.snapshot().resync_percent is None
    progress.resync(0.25)
    progress.error(OSError("stream broke"))
    snap = progress.snapshot()
    assert (snap.resync_percent, snap.last_error, snap.last_error_time) == (25.0, "stream broke", 5.0)
    progress.error(None)
    assert progress.snapshot().last_error is None
