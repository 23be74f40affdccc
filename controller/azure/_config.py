"""How the adapter talks to Azure: endpoint, TLS trust, polling, retries, timeouts and operation deadlines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.azure.errors import InvalidRequest
from failback.retry import Policy

__all__ = ["AzureClientConfig"]

# An InMage reprotect job installs and registers agents and can run for hours on a large VM; failovers are shorter.
_DEFAULT_OPERATION_DEADLINE = 4 * 3600.0


@dataclass(frozen=True)
class AzureClientConfig:
    """Settings shared by the Site Recovery and Compute clients.

    ``connection_verify`` is a CA bundle path (or True for the system store); it is always passed to the SDK
    explicitly, because a preset REQUESTS_CA_BUNDLE would otherwise decide. ``polling_interval`` is the pause
    between status polls when Azure sends no Retry-After. ``retry_total`` and ``retry_backoff_factor`` drive
    azure-core's own retry of 408/429/5xx per request (it honours Retry-After, and never repeats a POST whose answer
    was lost). ``operation_policy`` bounds every long-running operation (its deadline, clock and sleep are used).
    """

    base_url: str = "https://management.azure.com"
    connection_verify: str | bool = True
    polling_interval: float = 30.0
    retry_total: int = 3
    retry_backoff_factor: float = 0.8
    connection_timeout: float = 30.0
    read_timeout: float = 120.0
    operation_policy: Policy = field(default_factory=lambda: Policy(deadline=_DEFAULT_OPERATION_DEADLINE))

    def __post_init__(self) -> None:
        if not self.base_url.startswith("https://"):
            raise InvalidRequest(
                f"base_url must be an https:// URL, not {self.base_url!r}",
                remedy="Azure's bearer-token policy refuses plain http; use https",
            )
        if self.polling_interval < 0 or self.retry_total < 0:
            raise InvalidRequest("polling_interval and retry_total must not be negative")

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url.rstrip("/"),
            "connection_verify": self.connection_verify,
            "polling_interval": self.polling_interval,
            "retry_total": self.retry_total,
            "retry_backoff_factor": self.retry_backoff_factor,
            "connection_timeout": self.connection_timeout,
            "read_timeout": self.read_timeout,
        }
