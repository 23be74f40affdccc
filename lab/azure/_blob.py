"""The blob half of the local endpoint: managed-disk images read through their SAS URLs, as a page blob.

Serves ``Get Page Ranges`` (``comp=pagelist``: valid ranges, or with ``x-ms-previous-snapshot-url`` the pages
changed since an older image, cleared ones as ``ClearRange``; ``x-ms-range``, ``marker`` and ``maxresults`` as the
service takes them, with ``NextMarker`` past ``page_list_limit`` ranges) and ranged ``Get Blob`` (206 with
``Content-Range``), over the images of a :class:`~lab.azure._disks.DiskStore`. Authentication is the SAS in the query,
checked against the grant and its expiry; errors are storage XML with ``x-ms-error-code``. It counts what it serves.
"""

from __future__ import annotations

import datetime
import os
import re
import threading
from dataclasses import dataclass
from email.utils import format_datetime
from xml.sax.saxutils import escape

from lab.azure._disks import DiskStore, Image, StorageError
from lab.azure._http import ArmError, Request, Response, Router
from lab.azure._pages import PAGE

__all__ = ["BLOB_PATH", "BlobService", "BlobTraffic", "storage_error_response"]

#: Paths of image blobs: ``/{account}/{container}/abcd`` (an IP-style URL carries the account in the path).
BLOB_PATH = re.compile(r"^/md-impexp-[^/]+/[^/]+/abcd$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_MARKER = re.compile(r"^2!([0-9a-f]+)$")
_MAX_RESULTS = 10_000


@dataclass
class BlobTraffic:
    """What the blob service answered: requests and body bytes, for page lists and for blob data."""

    list_requests: int = 0
    list_bytes: int = 0
    data_requests: int = 0
    data_bytes: int = 0


def storage_error_response(error: StorageError | ArmError, headers: dict[str, str] | None = None) -> Response:
    """The XML error body and headers the blob service sends for ``error``."""
    detail = getattr(error, "detail", "")
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}\nRequestId:00000000-0000-0000-0000-0"
        f"00000000000\nTime:{datetime.datetime.now(datetime.UTC):%Y-%m-%dT%H:%M:%S.%f0Z}</Message>"
        + (f"<AuthenticationErrorDetail>{escape(detail)}</AuthenticationErrorDetail>" if detail else "")
        + "</Error>"
    )
    extra = dict(getattr(error, "headers", {}) or {})
    extra.update(headers or {})
    extra |= {"x-ms-error-code": error.code, "Content-Type": "application/xml"}
    return Response(error.status, None, extra, raw=body.encode())


class BlobService:
    def __init__(self, store: DiskStore) -> None:
        self.store = store
        self.traffic = BlobTraffic()
        self._lock = threading.Lock()

    def register(self, router: Router) -> None:
        router.add("GET", r"/(?P<account>md-impexp-[^/]+)/(?P<container>[^/]+)/abcd", self._get)

    def _get(self, request: Request, account: str, container: str) -> Response:
        try:
            image = self.store.resolve(account, container, request.query)
            comp = request.param("comp")
            if comp is None:
                return self._download(request, image)
            if comp == "pagelist":
                return self._page_list(request, image)
            error = StorageError(400, "UnsupportedQueryParameter", "This endpoint serves pagelist and blob reads.")
        except StorageError as refused:
            error = refused
        return storage_error_response(error, _common(request))

    def _page_list(self, request: Request, image: Image) -> Response:
        start, end = 0, image.size
        requested = request.header("x-ms-range") or request.header("Range")
        if requested:
            start, end = _parse_range(requested, image.size)
            if start % PAGE or end % PAGE:
                raise StorageError(416, "InvalidRange", "Page ranges must be aligned to 512-byte boundaries.")
        marker = request.param("marker")
        if marker:
            found = _MARKER.match(marker)
            if found is None:
                raise StorageError(400, "InvalidQueryParameterValue", f"The marker '{marker}' is not valid.")
            start = max(start, int(found.group(1), 16))
        limit = min(int(request.param("maxresults") or _MAX_RESULTS), _MAX_RESULTS, self.store.page_list_limit)
        if limit <= 0:
            raise StorageError(400, "OutOfRangeQueryParameterValue", "maxresults must be at least 1.")
        previous_url = request.header("x-ms-previous-snapshot-url")
        if previous_url:
            previous = self._previous(previous_url)
            ranges = self.store.diff(image, previous, start, end)
        elif request.param("prevsnapshot"):
            raise StorageError(
                409,
                "PreviousSnapshotOperationNotSupported",
                "Managed disk images take the previous snapshot as a URL (x-ms-previous-snapshot-url).",
            )
        else:
            ranges = self.store.page_ranges(image, start, end)
        parts = ['<?xml version="1.0" encoding="utf-8"?><PageList>']
        for first, stop, cleared in ranges[:limit]:
            tag = "ClearRange" if cleared else "PageRange"
            parts.append(f"<{tag}><Start>{first}</Start><End>{stop - 1}</End></{tag}>")
        if len(ranges) > limit:
            parts.append(f"<NextMarker>2!{ranges[limit][0]:x}</NextMarker>")
        parts.append("</PageList>")
        payload = "".join(parts).encode()
        with self._lock:
            self.traffic.list_requests += 1
            self.traffic.list_bytes += len(payload)
        headers = _common(request) | _blob_headers(image) | {"Content-Type": "application/xml"}
        headers["x-ms-blob-content-length"] = str(image.size)
        return Response(200, None, headers, raw=payload)

    def _previous(self, url: str) -> Image:
        found = re.match(r"^https://[^/]+/(md-impexp-[^/]+)/([^/?]+)/abcd\?(.*)$", url)
        if found is None:
            raise StorageError(409, "PreviousSnapshotNotFound", "The previous snapshot URL is not an image SAS URL.")
        query: dict[str, list[str]] = {}
        for pair in found.group(3).split("&"):
            key, _, value = pair.partition("=")
            query.setdefault(key, []).append(value)
        try:
            return self.store.resolve(found.group(1), found.group(2), query)
        except StorageError as error:
            raise StorageError(
                409, "PreviousSnapshotNotFound", f"The previous snapshot is not readable: {error.message}"
            ) from error

    def _download(self, request: Request, image: Image) -> Response:
        requested = request.header("x-ms-range") or request.header("Range")
        start, end = _parse_range(requested, image.size) if requested else (0, image.size)
        fd = os.open(image.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            payload = os.pread(fd, end - start, start)
        finally:
            os.close(fd)
        if len(payload) != end - start:
            raise StorageError(500, "InternalError", "The image file is shorter than the image.")
        with self._lock:
            self.traffic.data_requests += 1
            self.traffic.data_bytes += len(payload)
        headers = _common(request) | _blob_headers(image)
        headers |= {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        if requested:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{image.size}"
            return Response(206, None, headers, raw=payload)
        return Response(200, None, headers, raw=payload)


def _parse_range(value: str, size: int) -> tuple[int, int]:
    """``bytes=a-b`` (inclusive, ``b`` optional) as a half-open range inside the blob."""
    found = _RANGE.match(value.strip())
    if found is None:
        raise StorageError(400, "InvalidHeaderValue", f"The range header '{value}' is not valid.")
    start = int(found.group(1))
    end = int(found.group(2)) + 1 if found.group(2) else size
    if start >= size or end <= start:
        raise StorageError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
    return start, min(end, size)


def _common(request: Request) -> dict[str, str]:
    return {
        "x-ms-version": request.header("x-ms-version") or "2021-08-06",
        "Date": format_datetime(datetime.datetime.now(datetime.UTC), usegmt=True),
    }


def _blob_headers(image: Image) -> dict[str, str]:
    return {
        "ETag": image.etag,
        "Last-Modified": format_datetime(image.created.astimezone(datetime.UTC), usegmt=True),
        "x-ms-blob-type": "PageBlob",
        "x-ms-server-encrypted": "true",
    }
