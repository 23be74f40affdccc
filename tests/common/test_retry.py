import pytest

from failback.errors import DeadlineExceeded, PermanentError, TemporaryError
from failback.retry import Policy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(clock: FakeClock, deadline: float = 10.0) -> Policy:
    return Policy(deadline=deadline, initial=0.5, maximum=2.0, jitter=0.0, sleep=clock.sleep, clock=clock)


def test_wait_for_returns_the_first_value_that_is_not_none():
    clock = FakeClock()
    answers = iter([None, None, "sdb"])
    assert policy(clock).wait_for(lambda: next(answers), what="disk") == "sdb"
    assert len(clock.sleeps) == 2


def test_wait_for_backs_off_exponentially_up_to_the_maximum():
    clock = FakeClock()
    with pytest.raises(DeadlineExceeded):
        policy(clock).wait_for(lambda: None, what="disk")
    assert clock.sleeps[:3] == [0.5, 1.0, 2.0]
    assert max(clock.sleeps) == 2.0


def test_wait_for_raises_deadline_exceeded_naming_what_it_waited_for():
    clock = FakeClock()
    with pytest.raises(DeadlineExceeded, match="waiting for scsi id 6000c29 after 10 s"):
        policy(clock).wait_for(lambda: None, what="scsi id 6000c29")
    assert clock.now >= 10.0


def test_wait_for_keeps_the_last_temporary_error_as_cause():
    clock = FakeClock()

    def probe() -> str:
        raise TemporaryError("device busy")

    with pytest.raises(DeadlineExceeded) as info:
        policy(clock).wait_for(probe, what="device")
    assert isinstance(info.value.__cause__, TemporaryError)


def test_call_does_not_retry_permanent_errors():
    clock = FakeClock()
    calls = []

    def fn() -> None:
        calls.append(1)
        raise PermanentError("bad input")

    with pytest.raises(PermanentError):
        policy(clock).call(fn, what="step")
    assert len(calls) == 1


def test_call_reraises_the_last_temporary_error_after_the_deadline():
    clock = FakeClock()

    def fn() -> None:
        raise TemporaryError("still busy")

    with pytest.raises(TemporaryError, match="still busy"):
        policy(clock, deadline=3.0).call(fn, what="step")
    assert clock.now >= 3.0


def test_a_policy_without_a_deadline_is_refused():
    with pytest.raises(ValueError, match="positive deadline"):
        Policy(deadline=0)
