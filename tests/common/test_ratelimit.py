from controller.service._ratelimit import FailureLimiter, peer_host


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_failures_beyond_the_limit_wait_for_the_oldest_to_age_out():
    clock = Clock()
    limiter = FailureLimiter(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.5") == 0
        limiter.record_failure("10.0.0.5")
        clock.now += 1
    assert limiter.retry_after("10.0.0.5") == 57
    assert limiter.retry_after("10.0.0.6") == 0
    clock.now = 60.5
    assert limiter.retry_after("10.0.0.5") == 0


def test_peer_host_strips_the_port():
    assert peer_host("ipv4:10.0.0.5:51000") == "10.0.0.5"
    assert peer_host("ipv6:[::1]:51000") == "::1"
    assert peer_host("unix:/run/x.sock") == "unix:/run/x.sock"
