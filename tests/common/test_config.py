import datetime as dt

import pytest

from agent.server import parse_config
from failback.config import parse_address, parse_duration
from failback.errors import ConfigError


def test_defaults_listen_on_9443_and_keep_metrics_on_loopback():
    config = parse_config({}, "agent.toml")
    assert str(config.listen) == "0.0.0.0:9443"
    assert config.metrics_listen.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "seconds"), [(30, 30), ("500ms", 0.5), ("30s", 30), ("15m", 900), ("24h", 86400), ("7d", 604800)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


def test_ipv6_addresses_keep_their_brackets():
    assert str(parse_address("[::1]:9443")) == "[::1]:9443"


def test_every_unknown_key_is_listed():
    with pytest.raises(ConfigError, match=r"\[server\] aaa: unknown key \(also: bbb\)"):
        parse_config({"server": {"aaa": 1, "bbb": 2}}, "agent.toml")
