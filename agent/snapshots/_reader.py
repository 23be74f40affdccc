"""Reading an image (snapshot or disk restore point) through its SAS URL: page lists and ranged GETs.

Page lists go through azure-storage-blob (``get_page_range_diff_for_managed_disk`` with the previous image's SAS URL,
``list_page_ranges`` for the allocated ranges), one ``list_segment`` of the disk per call and following
``NextMarker``: the SDK's diff call drops the marker, so it is read from the deserialized page list and passed back.
Data is read with plain ranged GETs on an azure-core pipeline (its RetryPolicy honours Retry-After on 429 and 5xx)
instead of ``BlobClient.download_blob``, which lists every page range of a page blob before each ranged download:
on a large disk that full listing costs more than the read. Reads run on a thread pool, in order, at most
``2 x threads`` ahead, each paced by the bandwidth limiter. A refused SAS (expired or revoked) is renewed once per
failure through the image's :class:`Grant`; a deleted image is :class:`ImageGone`.
"""

from __future__ import annotations

import collections
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy, UserAgentPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.storage.blob import BlobClient, LinearRetry

from agent.dataplane import BandwidthLimiter
from agent.snapshots._config import AzureConfig
from agent.snapshots._ranges import PageRange, PlannedBlock, check_ranges
from agent.snapshots._translate import azure_call, translate
from agent.snapshots.errors import AzureUnavailable, ImageGone, PreviousImageUnusable, SasRejected
from failback.retry import Policy

__all__ = ["BlobSession", "Grant", "ImageReader", "ReadStats"]

#: Blob service version sent with ranged GETs (any version since 2019-07-07 serves managed-disk images).
_BLOB_VERSION = "2021-08-06"
_ZEROS = memoryview(bytes(4 << 20))


_SIGNATURE = re.compile(r"(?i)(sig=)[^&\s\"']+")


class _RedactSignatures(logging.Filter):
    """Rewrites a log record so no SAS signature (``sig=...``) survives in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "sig=" in message.lower():
            record.msg, record.args = _SIGNATURE.sub(r"\1REDACTED", message), None
        return True


def _redact_transport_logs() -> None:
    """urllib3 logs every request line (with the SAS query) at DEBUG: a SAS URL is a read credential for a whole
    disk image, so its signature is cut from those records whatever the process's logging configuration."""
    pool = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactSignatures) for f in pool.filters):
        pool.addFilter(_RedactSignatures())


class Grant(Protocol):
    """An image's current read URL. :meth:`url` renews it before it runs out; :meth:`renew` replaces ``stale``
    after the blob service refused it (another thread may have renewed it already)."""

    def url(self) -> str: ...

    def renew(self, stale: str) -> str: ...


@dataclass
class ReadStats:
    """What a reader asked of the blob service."""

    data_requests: int = 0
    data_bytes: int = 0
    list_requests: int = 0
    renewals: int = 0

    def add(self, other: ReadStats) -> None:
        self.data_requests += other.data_requests
        self.data_bytes += other.data_bytes
        self.list_requests += other.list_requests
        self.renewals += other.renewals


class BlobSession:
    """HTTP to the blob service for one group: a pooled azure-core pipeline for ranged GETs and a thread pool."""

    def __init__(self, config: AzureConfig, *, threads: int) -> None:
        self.config = config
        self.threads = threads
        _redact_transport_logs()
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=threads)
        session.mount("https://", adapter)
        transport = RequestsTransport(session=session, session_owner=True, connection_verify=config.connection_verify)
        self._client: PipelineClient[Any, Any] = PipelineClient(
            base_url="",
            policies=[
                HeadersPolicy({"x-ms-version": _BLOB_VERSION}),
                UserAgentPolicy(sdk_moniker="failback-snapshots"),
                RetryPolicy(retry_total=config.retry_total, retry_backoff_factor=config.retry_backoff_factor),
            ],
            transport=transport,
        )
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="snapshot-read")

    def get_range(self, url: str, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` of the blob behind ``url`` (one ranged GET, with the pipeline's retries)."""
        request = HttpRequest("GET", url, headers={"x-ms-range": f"bytes={offset}-{offset + length - 1}"})
        response = self._client.send_request(
            request, connection_timeout=self.config.connection_timeout, read_timeout=self.config.read_timeout
        )
        if response.status_code != 206:
            response.read()
            raise HttpResponseError(response=response)
        data: bytes = response.content
        if len(data) != length:
            raise AzureUnavailable(f"a ranged read at {offset} returned {len(data)} of {length} bytes")
        return data

    def blob_client(self, url: str) -> BlobClient:
        return BlobClient.from_blob_url(
            url,
            connection_verify=self.config.connection_verify,
            connection_timeout=self.config.connection_timeout,
            read_timeout=self.config.read_timeout,
            retry_policy=LinearRetry(
                backoff=max(1, round(self.config.retry_backoff_factor)),
                retry_total=self.config.retry_total,
                random_jitter_range=1,
            ),
        )

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()


def _keep(pages: dict[str, Any], response: Any, deserialized: Any, headers: Any) -> Any:
    """A ``cls`` hook that keeps the deserialized page list (its NextMarker) for the caller."""
    del response, headers
    pages["list"] = deserialized
    return deserialized


def _previous_url(get: Callable[[], str]) -> str:
    """The previous image's URL; its loss makes it unusable as a base, it does not end the current image."""
    try:
        return get()
    except ImageGone as exc:
        raise PreviousImageUnusable(f"the previous image is gone: {exc.message}") from exc


class ImageReader:
    """Reads one image of ``size`` bytes. ``policy`` bounds each request (retrying temporary failures);
    ``limiter`` paces the data read on behalf of ``pair``; ``stats`` counts requests and bytes."""

    def __init__(
        self,
        session: BlobSession,
        grant: Grant,
        size: int,
        *,
        policy: Policy,
        pair: str,
        limiter: BandwidthLimiter | None = None,
        stats: ReadStats | None = None,
        list_segment: int = 256 << 30,
    ) -> None:
        self.size = size
        self.stats = stats or ReadStats()
        self._session = session
        self._grant = grant
        self._policy = policy
        self._pair = pair
        self._limiter = limiter
        self._segment = list_segment
        self._lock = threading.Lock()
        self._allocated: list[PageRange] | None = None

    # -- SAS renewal -------------------------------------------------------------------------------------------

    def _attempt(self, call: Callable[[str], Any]) -> Any:
        """``call(url)``; when the blob service refuses the SAS, renew it once and call again."""
        url = self._grant.url()
        try:
            return call(url)
        except HttpResponseError as exc:
            if not isinstance(translate(exc, what="a read"), SasRejected):
                raise
        with self._lock:
            self.stats.renewals += 1
        return call(self._grant.renew(url))

    def _request(self, what: str, call: Callable[[str], Any]) -> Any:
        return azure_call(self._policy, what, lambda: self._attempt(call))

    # -- page lists --------------------------------------------------------------------------------------------

    def _page_list(self, what: str, previous: Grant | None) -> list[PageRange]:
        ranges: list[PageRange] = []
        for start in range(0, self.size, self._segment):
            length = min(self._segment, self.size - start)
            if previous is None:
                ranges += self._request(what, functools.partial(self._allocated_segment, start=start, length=length))
            else:
                ranges += self._diff(what, previous, start, length)
        return list(check_ranges(ranges, self.size))

    def _allocated_segment(self, url: str, start: int, length: int) -> list[PageRange]:
        found: list[PageRange] = []
        with self._session.blob_client(url) as client:
            for page in client.list_page_ranges(offset=start, length=length).by_page():
                found += [PageRange(r.start or 0, (r.end or 0) + 1) for r in page]
                with self._lock:
                    self.stats.list_requests += 1
        return found

    def _diff(self, what: str, previous: Grant, start: int, length: int) -> list[PageRange]:
        renewed = False
        while True:
            previous_url = _previous_url(previous.url)
            try:
                segment = functools.partial(self._diff_segment, previous_url=previous_url, start=start, length=length)
                return list(self._request(what, segment))
            except PreviousImageUnusable:
                # The previous image's SAS may have run out; a fresh one settles whether the image itself is unusable.
                if renewed:
                    raise
                _previous_url(functools.partial(previous.renew, previous_url))
                renewed = True

    def _diff_segment(self, url: str, previous_url: str, start: int, length: int) -> list[PageRange]:
        out: list[PageRange] = []
        marker: str | None = None
        with self._session.blob_client(url) as client:
            while True:
                pages: dict[str, Any] = {}
                written, cleared = client.get_page_range_diff_for_managed_disk(
                    previous_url, offset=start, length=length, marker=marker, cls=functools.partial(_keep, pages)
                )
                with self._lock:
                    self.stats.list_requests += 1
                out += [PageRange(r["start"], r["end"] + 1) for r in written]
                out += [PageRange(r["start"], r["end"] + 1, cleared=True) for r in cleared]
                marker = getattr(pages.get("list"), "next_marker", None) or None
                if marker is None:
                    return sorted(out, key=lambda r: r.start)

    def changed_ranges(self, previous: Grant) -> list[PageRange]:
        """Pages changed since the image behind ``previous`` (cleared ones with ``cleared``), sorted."""
        return self._page_list("listing changed pages", previous)

    def allocated_ranges(self) -> list[PageRange]:
        """The image's allocated (ever written, not cleared) ranges; everything else reads as zeros."""
        if self._allocated is None:
            self._allocated = self._page_list("listing allocated pages", None)
        return self._allocated

    # -- data --------------------------------------------------------------------------------------------------

    def read(self, offset: int, length: int) -> bytes:
        """One ranged GET, paced by the limiter."""
        if self._limiter is not None:
            self._limiter.acquire(self._pair, length, timeout=self._policy.deadline)
        data: bytes = self._request(
            f"reading {length} bytes at {offset}", lambda url: self._session.get_range(url, offset, length)
        )
        with self._lock:
            self.stats.data_requests += 1
            self.stats.data_bytes += length
        return data

    def read_blocks(self, blocks: Iterable[PlannedBlock]) -> Iterator[tuple[PlannedBlock, memoryview]]:
        """Each block with its content, in order; zero blocks are not read. Each yielded buffer is the block's own
        (the data path may keep it until the batch is sent)."""
        depth = 2 * self._session.threads
        inflight: collections.deque[tuple[PlannedBlock, Future[bytes] | None]] = collections.deque()
        try:
            for block in blocks:
                inflight.append(
                    (block, None if block.zero else self._session.pool.submit(self.read, block.offset, block.length))
                )
                while len(inflight) > depth:
                    yield self._done(*inflight.popleft())
            while inflight:
                yield self._done(*inflight.popleft())
        finally:
            for _, future in inflight:
                if future is not None:
                    future.cancel()

    @staticmethod
    def _done(block: PlannedBlock, future: Future[bytes] | None) -> tuple[PlannedBlock, memoryview]:
        if future is None:
            return block, _ZEROS[: block.length]
        return block, memoryview(future.result())

    def read_into(self, view: memoryview, offset: int) -> None:
        """Fill ``view`` with the image from ``offset``: allocated parts are read (in parallel), the rest is zeros.
        This is how a hash resync reads the image (see :class:`agent.dataplane.ScanSource`)."""
        end = offset + len(view)
        for position in range(0, len(view), len(_ZEROS)):
            chunk = view[position : position + len(_ZEROS)]
            chunk[:] = _ZEROS[: len(chunk)]
        pieces: list[tuple[int, int]] = []
        for r in self.allocated_ranges():
            if r.end <= offset or r.start >= end:
                continue
            start, stop = max(r.start, offset), min(r.end, end)
            pieces += [(p, min(p + (1 << 20), stop)) for p in range(start, stop, 1 << 20)]
        futures = [self._session.pool.submit(self.read, s, e - s) for s, e in pieces]
        try:
            for (s, e), future in zip(pieces, futures, strict=True):
                view[s - offset : e - offset] = future.result()
        finally:
            for future in futures:
                future.cancel()
