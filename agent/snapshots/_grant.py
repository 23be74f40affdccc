"""An image's read grant (SAS) as the reader uses it: granted on first use, renewed a little before it runs out (a
managed-disk SAS URL does not show its expiry, so the grant keeps its own clock), and renewed when the blob service
refuses it. The URL lives in memory only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from agent.snapshots._azure import AzureImages, ImageRef

__all__ = ["ImageGrant"]


class ImageGrant:
    """An image's read SAS, granted on first use and renewed before it runs out or when the service refuses it."""

    def __init__(self, azure: AzureImages, image: ImageRef, seconds: int, clock: Callable[[], float]) -> None:
        self.image = image
        self._azure = azure
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._url: str | None = None
        self._renew_at = 0.0

    def url(self) -> str:
        with self._lock:
            if self._url is None or self._clock() >= self._renew_at:
                return self._grant()
            return self._url

    def renew(self, stale: str) -> str:
        with self._lock:
            if self._url is None or self._url == stale:
                return self._grant()
            return self._url

    def _grant(self) -> str:
        started = self._clock()
        self._url = self._azure.grant(self.image, self._seconds)
        self._renew_at = started + self._seconds - min(300.0, self._seconds / 10)
        return self._url
