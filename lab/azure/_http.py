"""HTTP plumbing of the local Azure endpoint: requests, responses, ARM errors, recorded traffic and injected faults.

Nothing here knows about Site Recovery or Compute; those modules register routes (method + path pattern) and return
:class:`Response` objects. A handler raises :class:`ArmError` for any answer ARM would give as an error body.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArmError", "Fault", "RecordedRequest", "Request", "Response", "Router"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the endpoint received it; ``body`` is the parsed JSON (None when there was none)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A request header, looked up case-insensitively as HTTP does."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Response:
    """An answer; ``status`` 0 means: close the connection without answering. ``raw`` is a body sent as it is
    (blob data, XML) instead of ``body`` as JSON; its Content-Type is in ``headers``."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


class ArmError(Exception):
    """An ARM error answer: ``{"error": {"code", "message", ...}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        possible_causes: str = "",
        recommended_action: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.possible_causes = possible_causes
        self.recommended_action = recommended_action
        self.headers = headers or {}

    def response(self) -> Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.possible_causes:
            error["possibleCauses"] = self.possible_causes
        if self.recommended_action:
            error["recommendedAction"] = self.recommended_action
        return Response(self.status, {"error": error}, dict(self.headers))


@dataclass
class Fault:
    """Answer requests whose path matches ``path`` (a regex, searched case-insensitively) with an error.

    ``times`` is how many matching requests fail (None: all of them); ``retry_after`` adds that header (429, 503).
    ``drop`` instead carries the request out and then closes the connection without an answer: the client cannot
    know whether its action happened.
    """

    path: str
    status: int
    method: str | None = None
    times: int | None = 1
    retry_after: int | None = None
    code: str = ""
    message: str = ""
    drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return re.search(self.path, path, re.IGNORECASE) is not None

    def error(self) -> ArmError:
        code = self.code or _DEFAULT_CODES.get(self.status, "InternalServerError")
        message = self.message or f"Injected fault: HTTP {self.status}."
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return ArmError(self.status, code, message, headers=headers)


_DEFAULT_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}

Handler = Callable[..., Response]


class Router:
    """Routes by method and a path regex with named groups; paths are matched case-insensitively, as ARM does."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._recorded: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern + r"\Z", re.IGNORECASE), handler))

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def recorded(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._recorded)

    def clear_recorded(self) -> None:
        with self._lock:
            self._recorded.clear()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._recorded.append(request)

    def injected(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def dispatch(self, request: Request) -> Response:
        allowed: set[str] = set()
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.add(method)
                continue
            return handler(request, **match.groupdict())
        if allowed:
            raise ArmError(405, "MethodNotAllowed", f"{request.method} is not allowed on {request.path}.")
        raise ArmError(404, "NotFound", f"No route for {request.method} {request.path}.")
