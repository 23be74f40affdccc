"""Reading TOML configuration with errors that name the file, the table and the key.

Each component describes its file with a few ``Table`` reads; an unknown key is an error (a typo must not silently
fall back to a default), and every value error says what was expected and what was found.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from failback.errors import ConfigError

__all__ = ["Address", "Table", "load_toml", "parse_address", "parse_duration"]

_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class Address(tuple[str, int]):
    """``(host, port)``; ``str()`` gives ``host:port`` (IPv6 hosts bracketed), as gRPC wants it."""

    __slots__ = ()

    def __new__(cls, host: str, port: int) -> Address:
        return super().__new__(cls, (host, port))

    @property
    def host(self) -> str:
        return self[0]

    @property
    def port(self) -> int:
        return self[1]

    def local(self) -> Address:
        """Where a client on this machine reaches a server bound here (a wildcard bind becomes loopback)."""
        wildcard = self.host in ("0.0.0.0", "::", "")  # noqa: S104 - recognising a wildcard, not binding one
        return Address("127.0.0.1" if wildcard else self.host, self.port)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str, *, allow_zero_port: bool = True) -> Address:
    """Parse ``host:port`` or ``[v6]:port``; raise ValueError with a reason."""
    match = re.match(r"^\[(?P<v6>[^\]]+)\]:(?P<port>\d+)$|^(?P<host>[^:\[\]]+):(?P<port2>\d+)$", text.strip())
    if not match:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = match["v6"] or match["host"]
    port = int(match["port"] or match["port2"])
    if not (0 if allow_zero_port else 1) <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return Address(host, port)


def parse_duration(value: object) -> dt.timedelta:
    """``30`` (seconds), ``"500ms"``, ``"30s"``, ``"15m"``, ``"24h"``, ``"7d"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match["value"]) * _UNITS[match["unit"]]
    else:
        raise ValueError(f"expected a duration such as '30s' or '7d', got {value!r}")
    if seconds <= 0:
        raise ValueError(f"expected a positive duration, got {value!r}")
    return dt.timedelta(seconds=seconds)


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such configuration file") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


class Table:
    """One TOML table being read. Use it as a context manager (or call :meth:`finish`) to refuse keys nobody read."""

    def __init__(self, source: str, data: Mapping[str, Any], name: str = "") -> None:
        self._source = source
        self._data = data
        self._name = name
        self._seen: set[str] = set()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.finish()

    def _where(self, key: str) -> str:
        return f"{self._source}: [{self._name}] {key}" if self._name else f"{self._source}: {key}"

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self._where(key)}: {problem}")

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        return self._data.get(key, default)

    def table(self, key: str) -> Table:
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a table, got {type(value).__name__}")
        return Table(self._source, value, f"{self._name}.{key}" if self._name else key)

    def string(self, key: str, default: str | None = None, *, choices: frozenset[str] | None = None) -> str:
        value = self._get(key, default)
        if value is None:
            raise self.error(key, "is required")
        if not isinstance(value, str) or not value:
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.error(key, f"expected one of {', '.join(sorted(choices))}, got {value!r}")
        return value

    def optional_string(self, key: str) -> str | None:
        value = self._get(key, None)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise self.error(key, f"expected a list of non-empty strings, got {value!r}")
        return tuple(value)

    def path(self, key: str, default: Path | None = None) -> Path:
        value = self._get(key, None)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        if not isinstance(value, str) or not value.startswith("/"):
            raise self.error(key, f"expected an absolute path, got {value!r}")
        return Path(value)

    def address(self, key: str, default: str) -> Address:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected HOST:PORT, got {value!r}")
        try:
            return parse_address(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from exc

    def duration(self, key: str, default: str) -> dt.timedelta:
        try:
            return parse_duration(self._get(key, default))
        except ValueError as exc:
            raise self.error(key, str(exc)) from exc

    def integer(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        if not minimum <= value <= maximum:
            raise self.error(key, f"expected {minimum}..{maximum}, got {value}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise self.error(unknown[0], "unknown key" + (f" (also: {', '.join(unknown[1:])})" if unknown[1:] else ""))
