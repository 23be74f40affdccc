"""The local Azure endpoint: a threaded HTTPS server on 127.0.0.1 serving Site Recovery and Compute for one estate.

It records every request, answers injected faults before routing, and requires a bearer token as ARM does. It owns
its socket and thread; it must never listen on anything but loopback.
"""

from __future__ import annotations

import datetime
import json
import re
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from lab._tlsca import TestCA
from lab.azure._asr import SiteRecoveryService
from lab.azure._blob import BLOB_PATH, BlobService, BlobTraffic, storage_error_response
from lab.azure._compute import ComputeService
from lab.azure._demo import demo_estate
from lab.azure._disk_service import DiskService
from lab.azure._disks import DiskStore
from lab.azure._estate import Estate
from lab.azure._http import ArmError, Fault, RecordedRequest, Request, Response, Router
from lab.azure._identity import IdentityService
from lab.azure._lro import LroSettings, Operations
from lab.azure._permissions import PermissionsService

__all__ = ["LocalAzure"]


class LocalAzure:
    """A local HTTPS endpoint for the real Azure SDKs, as a context manager.

    ``base_url`` and ``ca_file`` are what a client needs (``base_url=...``, ``connection_verify=ca_file``);
    ``estate`` is the live state; ``requests`` the recorded traffic; ``lro`` how the next long-running operations
    behave; :meth:`inject` adds a fault. ``token``, when set, is the only bearer token accepted. ``principals`` maps
    (tenant, client id) to a client secret: those service principals get ``token`` from the endpoint's Entra ID
    token route (authority ``base_url``). ``disks`` holds the managed disks (image files under ``disk_dir``, a
    temporary directory by default), their snapshots and restore points; ``blob_traffic`` counts what their SAS
    URLs served. ``permissions`` is what ARM's permissions API answers (every documented action by default).
    ``clock`` drives operation times, SAS expiry and Azure's snapshot rate limits.
    """

    def __init__(
        self,
        estate: Estate | None = None,
        *,
        tls_dir: Path | None = None,
        ca: TestCA | None = None,
        token: str | None = None,
        principals: dict[tuple[str, str], str] | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
        disk_dir: Path | None = None,
    ) -> None:
        self.estate = estate if estate is not None else demo_estate()
        self._tmp = tempfile.TemporaryDirectory(prefix="local-azure-") if tls_dir is None and ca is None else None
        self._disk_tmp = tempfile.TemporaryDirectory(prefix="local-azure-disks-") if disk_dir is None else None
        directory = tls_dir if tls_dir is not None else Path(self._tmp.name if self._tmp else ".")
        self.ca = ca if ca is not None else TestCA(directory / "ca")
        self.token = token
        self.lro = LroSettings()
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._router = Router()
        self._ops = ops = Operations(self.lro, self._clock)
        self._lock = threading.Lock()
        self.disks = DiskStore(disk_dir or Path(self._disk_tmp.name if self._disk_tmp else "."), self._clock)
        disk_service = DiskService(self.estate, self.disks, ops, self._clock)
        blob = BlobService(self.disks)
        self.blob_traffic: BlobTraffic = blob.traffic
        SiteRecoveryService(self.estate, ops, self._clock).register(self._router)
        ComputeService(self.estate, ops, disk_service.bodies.storage_profile).register(self._router)
        disk_service.register(self._router)
        blob.register(self._router)
        IdentityService(principals or {}, token or "local-azure-token").register(self._router)
        self.permissions = PermissionsService()
        self.permissions.register(self._router)
        server_cert = self.ca.issue_server("localhost")
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(server_cert.cert_file, server_cert.key_file)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def ca_file(self) -> str:
        return str(self.ca.ca_file)

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the endpoint is not running; use it as a context manager")
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._router.recorded

    def clear_requests(self) -> None:
        self._router.clear_recorded()

    def inject(self, fault: Fault) -> None:
        self._router.inject(fault)

    def clear_faults(self) -> None:
        self._router.clear_faults()

    def finish_operations(self) -> None:
        """End every operation left running by ``lro.hang`` at its next status poll or job read."""
        self._ops.release()

    def __enter__(self) -> LocalAzure:
        endpoint = self

        class Handler(_Handler):
            local = endpoint

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-azure", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()
        if self._disk_tmp is not None:
            self._disk_tmp.cleanup()

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> Response:
        """Record, authenticate, apply faults and route one request (called from the server's threads)."""
        parsed = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parsed.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            body: Any = {k: v[0] for k, v in urllib.parse.parse_qs(raw_body.decode()).items()}
        else:
            try:
                body = json.loads(raw_body) if raw_body else None
            except json.JSONDecodeError:
                body = raw_body.decode(errors="replace")
        self._router.record(RecordedRequest(method, path, query, headers, body))
        blob = BLOB_PATH.match(path) is not None
        try:
            fault = self._router.injected(method, path)
            if fault is not None and not fault.drop:
                raise fault.error()
            request = Request(method, path, query, body, self.base_url, headers)
            if blob:
                # Blob reads carry a SAS, not a bearer token, and run in parallel: they only read image files.
                response = self._router.dispatch(request)
                return Response(0) if fault is not None else response
            if not _TOKEN_ROUTES.search(path):
                self._authenticate(headers)
            if isinstance(body, str):
                return ArmError(400, "InvalidRequestContent", "The request content could not be parsed.").response()
            with self._lock:  # one writer at a time: actions read-modify-write the estate
                response = self._router.dispatch(request)
            return Response(0) if fault is not None else response
        except ArmError as error:
            return storage_error_response(error) if blob else error.response()

    def _authenticate(self, headers: dict[str, str]) -> None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token or (self.token is not None and token != self.token):
            raise ArmError(
                401,
                "InvalidAuthenticationToken",
                "The access token is missing or invalid.",
                recommended_action="Check the credential's tenant, client id and secret.",
            )


_TOKEN_ROUTES = re.compile(r"^/[^/]+/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment; split writes meet the client's delayed ACK (40 ms a request).
    wbufsize = -1
    disable_nagle_algorithm = True
    local: LocalAzure

    def setup(self) -> None:
        self._tls_failed = False
        try:
            self.request = self.local._context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            # A client that does not trust our CA aborts the handshake; that is its answer, not our failure.
            self._tls_failed = True
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            # wrap_socket detached the accepted socket, so socketserver's own close no longer reaches it.
            self.request.close()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        response = self.local.handle(self.command, self.path, dict(self.headers.items()), raw)
        if response.status == 0:
            self.close_connection = True
            return
        payload = response.encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload and not any(name.lower() == "content-type" for name in response.headers):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        del format, args  # the recorded requests are the log

    def handle(self) -> None:
        if self._tls_failed:
            self.close_connection = True
            return
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError):
            return
