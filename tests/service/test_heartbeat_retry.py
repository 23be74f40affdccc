"""A heartbeat that fails is retried after the short retry interval, not the controller's (long) interval, so a
restarted controller sees its agents again within seconds; once one goes through, the normal interval applies."""

from __future__ import annotations

import threading

from agent.trust import Heartbeat
from agent.trust.errors import ControllerUnreachable
from failback.retry import Policy


class _Flaky(Heartbeat):
    """Fails the first ``failures`` beats as an unreachable controller would, then succeeds."""

    def __init__(self, failures: int, **kwargs: float) -> None:
        super().__init__(None, None, lambda: None, **kwargs)  # type: ignore[arg-type]
        self.failures = failures
        self.calls = 0
        self.succeeded = threading.Event()

    def beat(self):  # type: ignore[override]
        self.calls += 1
        if self.calls <= self.failures:
            raise ControllerUnreachable("the controller at 127.0.0.1:9440 did not take the heartbeat: refused")
        self.succeeded.set()


def test_a_failed_heartbeat_is_retried_soon_and_then_the_normal_interval_applies():
    heartbeat = _Flaky(3, interval=3600.0, retry_interval=0.05)
    heartbeat.start()
    try:
        Policy(deadline=10, initial=0.05, maximum=0.2).wait_for(
            lambda: True if heartbeat.succeeded.is_set() and heartbeat.last_error is None else None,
            what="the fourth heartbeat",
        )
        assert heartbeat.calls == 4
        # After a success the next beat waits the controller's interval (an hour here): no further call.
        assert not heartbeat._stop.wait(0.3)
        assert heartbeat.calls == 4
    finally:
        heartbeat.stop()
