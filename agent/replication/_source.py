"""The process server's side of one pair: a thread that keeps a stream to the master target open and pumps the
pair's changes through a :class:`agent.dataplane.PairSender`.

    connect (mTLS, the master target's identity) -> open stream -> resume at the durable watermark -> pump, acks
    -> any failure: record it, wait (declared backoff), connect again

Restarts are exact: every session resumes from the master target's durable watermark, never from zero, through the
pair's send log (agent.dataplane.SendIndex by default: the source is read again from the watermark's cursor). A
failure that only a resync can repair (the two sides disagree about acknowledged batches, the change log was trimmed
past the cursor or is damaged) stops the pair as FAILED: the controller resyncs it with a new generation.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc

from agent.dataplane import (
    LOG_PHASE,
    AcknowledgedPosition,
    Backlog,
    BandwidthLimiter,
    BatchEncoder,
    ChangeLogSource,
    ChangeSource,
    Extent,
    InflightWindow,
    PairProgress,
    PairSender,
    ProgressRecorder,
    ReprotectSource,
    ScanSource,
    SendIndex,
    SendLog,
    SourceDigest,
    digest_at_bookmark,
    digest_at_end,
    read_acknowledged,
    read_durable,
    writer_active,
)
from agent.dataplane.errors import (
    BacklogCorrupt,
    BacklogFailed,
    BacklogMismatch,
    BadCursor,
    CursorTrimmed,
    LogCorrupt,
    WatermarkAhead,
    WatermarkBehind,
)
from agent.replication._groups import SnapshotFeed
from agent.replication._remote import GrpcRemoteHashes
from agent.replication._specs import SourceKind, SourcePairSpec
from agent.replication._stream import StreamSession
from agent.replication.errors import DiskMismatch, NoChangeLog, StreamBroken
from agent.snapshots import SnapshotGroup
from agent.snapshots.errors import SnapshotPermanentError
from failback.errors import FailbackError
from failback.identity import Identity
from failback.retry import Policy

__all__ = ["Connector", "SenderOptions", "SourcePair", "SourcePhase", "SourceState", "SourceStatus"]

log = logging.getLogger(__name__)

#: Errors only a resync (a new generation) or the controller repairs: the pair stops as FAILED. Azure's permanent
#: refusals (a missing role, a disk the VM lacks) too: the controller puts the pair again once they are fixed.
FATAL: tuple[type[FailbackError], ...] = (
    SnapshotPermanentError,
    WatermarkAhead,
    WatermarkBehind,
    BacklogCorrupt,
    BacklogMismatch,
    BadCursor,
    CursorTrimmed,
    LogCorrupt,
    DiskMismatch,
)


class Connector(Protocol):
    """Makes the mutual-TLS channel to a master target (the agent's current identity; tests add interceptors)."""

    def channel(self, address: str, peer: Identity) -> grpc.Channel: ...


class SourceState(enum.IntEnum):
    """As the protobuf PairState."""

    DISCONNECTED = 1
    RESYNCING = 2
    REPLICATING = 3
    SYNCED = 4
    FAILED = 8


class SourcePhase(enum.IntEnum):
    SCAN = 1
    CHANGE_LOG = 2
    SNAPSHOT_CYCLES = 3


@dataclass(frozen=True)
class SenderOptions:
    """How a pair sends; the defaults suit production (``[replication]`` in agent.toml sets some)."""

    batch_bytes: int = 1 << 20
    window_bytes: int = 32 << 20
    window_batches: int = 64
    sync_every: int = 8
    send_timeout: float = 60.0  # a wait for window room or bandwidth longer than this reconnects
    open_timeout: float = 30.0  # for the master target's answer to an open
    poll_interval: float = 0.02  # how often an idle change log is looked at again
    send_log: str = "index"  # "index" (SendIndex) or "backlog" (Backlog: every batch kept until acknowledged)
    reconnect: Policy = field(
        default_factory=lambda: Policy(deadline=600.0, initial=0.1, maximum=5.0, jitter=0.2, retry_on=(StreamBroken,))
    )


@dataclass(frozen=True, slots=True)
class SourceStatus:
    spec: SourcePairSpec
    state: SourceState
    reason: str
    phase: SourcePhase
    connected: bool
    progress: PairProgress
    connects: int
    acknowledged_point: str | None = None  #: AZURE_SNAPSHOTS: the newest point the master target holds
    point_age: float | None = None  #: and its age, seconds
    log_durable: int = 0
    """SCAN_THEN_CHANGE_LOG: the change log's durable end, and how far the master target acknowledged it."""
    log_acknowledged: int = 0


class _Stopped(Exception):
    """The pair is being stopped: leave the session and the retry loop."""


class _Reconnect(Exception):
    """An established session ended: connect again now."""


class _RemoteProxy:
    """The master target's hashes through whichever session is current (a ScanSource outlives sessions)."""

    def __init__(self) -> None:
        self.target: GrpcRemoteHashes | None = None

    def hashes(self, extents: Sequence[Extent], unit: int) -> Sequence[bytes]:
        if self.target is None:
            raise StreamBroken("no stream to the master target")
        return self.target.hashes(extents, unit)


class _Limiters:
    """The agent-wide limit, then the pair's own."""

    def __init__(self, shared: BandwidthLimiter, own: BandwidthLimiter | None) -> None:
        self.shared, self.own = shared, own

    def acquire(self, pair: str, nbytes: int, *, timeout: float | None = None) -> None:
        self.shared.acquire(pair, nbytes, timeout=timeout)
        if self.own is not None:
            self.own.acquire(pair, nbytes, timeout=timeout)


class SourcePair:
    """One pair on the process server, sending from its own thread once :meth:`start` is called."""

    def __init__(
        self,
        spec: SourcePairSpec,
        *,
        log_start: int,
        resync_end: int | None = None,
        on_resync_end: Callable[[int], None] = lambda _end: None,
        work_dir: str,
        connector: Connector,
        encoder: BatchEncoder,
        limiter: BandwidthLimiter,
        options: SenderOptions,
        snapshots: SnapshotGroup | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``snapshots``: the VM's snapshot group, for an AZURE_SNAPSHOTS pair."""
        self.spec = spec
        self.log_start = log_start
        self.resync_end = resync_end
        self._on_resync_end = on_resync_end
        self._work_dir = work_dir
        self._connector = connector
        self._encoder = encoder
        self._options = options
        self._limiters = _Limiters(limiter, BandwidthLimiter(spec.bandwidth) if spec.bandwidth else None)
        self._clock = clock
        self.progress = ProgressRecorder(spec.pair_id, spec.generation, clock=clock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connected = False
        self._connects = 0
        self._failed: str | None = None
        self._done = False
        self._remote = _RemoteProxy()
        self._source: ChangeSource | None = None
        self._scan: ScanSource | None = None
        self._reprotect: ReprotectSource | None = None
        self._send_log: SendLog | None = None
        self._sender: PairSender | None = None
        self._acknowledged: AcknowledgedPosition | None = None
        self._acked_cursor: int | None = None
        self._snapshots = snapshots
        self._feed: SnapshotFeed | None = None

    # -- life cycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._open_send_log()  # now, so that the pair's phase and position are known before it connects
        except FailbackError as exc:
            self._failed = f"the pair's send state cannot be opened: {exc}"
            self.progress.error(self._failed)
            log.error("pair %s: %s", self.spec.pair_id, self._failed)
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"send-{self.spec.pair_id}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the sender thread to stop, without waiting (see :meth:`stop`)."""
        self._stop.set()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop sending (the stream is cancelled; what is in flight is resent by the next start) and release the
        pair's files."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._release()

    def set_bandwidth(self, rate: int | None) -> None:
        """This pair's own limit (None: only the agent-wide one)."""
        if rate is None:
            self._limiters.own = None
        elif self._limiters.own is None:
            self._limiters.own = BandwidthLimiter(rate)
        else:
            self._limiters.own.set_rate(rate)

    def _release(self) -> None:
        closers = [self._scan, self._send_log, self._acknowledged]
        for closer in closers:
            if closer is not None:
                try:
                    closer.close()
                except (FailbackError, OSError) as exc:
                    log.warning("pair %s: closing: %s", self.spec.pair_id, exc)
        self._scan = self._source = self._sender = self._send_log = self._acknowledged = self._feed = None

    # -- the loop --------------------------------------------------------------------------------------------------

    def _run(self) -> None:
        policy = self._options.reconnect
        policy = Policy(
            deadline=policy.deadline,
            initial=policy.initial,
            maximum=policy.maximum,
            jitter=policy.jitter,
            retry_on=policy.retry_on,
            sleep=self._wait,
        )
        while not self._stop.is_set():
            try:
                policy.call(self._session, what=f"streaming pair {self.spec.pair_id}")
            except _Stopped:
                return
            except (StreamBroken, _Reconnect):
                continue  # a session ended, or the policy's deadline passed: a fresh backoff
            except FailbackError as exc:
                self._failed = f"{exc}"
                self.progress.error(exc)
                log.error("pair %s stopped: %s", self.spec.pair_id, exc)
                return
            except Exception as exc:  # a bug: stop the pair visibly instead of losing the thread silently
                self._failed = f"internal error: {exc!r}"
                self.progress.error(self._failed)
                log.exception("pair %s stopped by an internal error", self.spec.pair_id)
                return
            if self._done:
                self._stop.wait()  # nothing more to send; the pair stays until deleted or replaced
                return

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _session(self) -> None:
        if self._stop.is_set():
            raise _Stopped
        channel = self._connector.channel(self.spec.master_target_address, self.spec.master_target)
        stream: StreamSession | None = None
        remote: GrpcRemoteHashes | None = None
        acknowledged = self.progress.snapshot().acknowledged_seq
        try:
            stream = StreamSession(
                channel,
                self.spec.pair_id,
                self.spec.generation,
                on_ack=self._on_ack,
                on_broken=self._stream_broken,
                open_timeout=self._options.open_timeout,
            )
            remote = GrpcRemoteHashes(channel, self.spec.pair_id, self.spec.generation, disk_size=stream.disk_size)
            self._remote.target = remote
            sender = self._prepare(stream.disk_size)
            with self._lock:
                self._connected = True
                self._connects += 1
            self.progress.error(None)
            sender.connect(stream.durable_seq, stream)
            self._pump(sender, stream)
        except FATAL:
            raise
        except (FailbackError, OSError) as exc:
            if isinstance(exc, BacklogFailed):
                self._release()  # reopened (and recovered) by the next session
            broken = exc if isinstance(exc, StreamBroken) else StreamBroken(f"pair {self.spec.pair_id}: {exc}")
            self.progress.error(broken)
            if stream is not None and self.progress.snapshot().acknowledged_seq > acknowledged:
                # The stream was up and moved data: reconnect at once, with the backoff starting afresh (the policy's
                # attempts count sessions that got nowhere, not the sessions of a long-running pair).
                raise _Reconnect from broken
            raise broken from exc
        finally:
            with self._lock:
                self._connected = False
            self._remote.target = None
            if stream is not None:
                stream.close()
            if remote is not None:
                remote.close()
            channel.close()

    def _pump(self, sender: PairSender, stream: StreamSession) -> None:
        """Send until stopped, or until a SCAN pair's pass is complete and acknowledged (then the stream closes)."""
        while not self._stop.is_set():
            sent = sender.pump(stream)
            stream.raise_if_broken()
            if self._finished():
                self._done = True
                log.info("pair %s: the resync pass is complete and acknowledged", self.spec.pair_id)
                return
            if not sent:
                self._stop.wait(self._feed.idle() if self._feed is not None else self._options.poll_interval)
        raise _Stopped

    # -- the pair's data path ---------------------------------------------------------------------------------------

    def _prepare(self, disk_size: int) -> PairSender:
        """The source, send log and sender, made once (a session reuses them)."""
        if self._sender is not None:
            return self._sender
        if self.spec.azure is not None:
            assert self._snapshots is not None
            disk_id = self.spec.azure.disk_resource_id
            self._feed = SnapshotFeed(self._snapshots, self.spec.pair_id, disk_id, self._remote)
            size = self._feed.disk_size()
        else:
            size = _disk_size(self.spec.source_path)
        if size != disk_size:
            raise DiskMismatch(
                f"pair {self.spec.pair_id}: the source disk {self.spec.source} holds {size} bytes but the master "
                f"target's pair is {disk_size} bytes",
                remedy="put the pair on the master target with the source disk's size (a new generation)",
            )
        if self._feed is not None:
            self._source = self._feed.source
        else:
            self._source = self._scan = ScanSource(
                self.spec.source_path, self._remote, size=size, resync_id=f"resync-g{self.spec.generation}"
            )
        if self.spec.kind is SourceKind.SCAN_THEN_CHANGE_LOG:
            assert self.spec.change_log_dir is not None
            assert self._scan is not None
            log = ChangeLogSource(self.spec.change_log_dir)
            self._reprotect = ReprotectSource(
                self._scan,
                log,
                self.log_start,
                durable_position=log.durable_position,
                resync_end=self.resync_end,
                on_resync_end=self._resync_ended,
            )
            self._source = self._reprotect
            self._acknowledged = AcknowledgedPosition(self.spec.change_log_dir)
        options = self._options
        self._sender = PairSender(
            self.spec.pair_id,
            source=self._source,
            backlog=self._open_send_log(),
            encoder=self._encoder,
            window=InflightWindow(max_bytes=options.window_bytes, max_batches=options.window_batches),
            progress=self.progress,
            limiter=self._limiters,
            on_acknowledged=self._on_cursor,
            batch_bytes=options.batch_bytes,
            sync_every=options.sync_every,
            timeout=options.send_timeout,
        )
        return self._sender

    def _open_send_log(self) -> SendLog:
        if self._send_log is None:
            directory = os.path.join(self._work_dir, f"g{self.spec.generation}")
            if self._options.send_log == "backlog":
                self._send_log = Backlog(directory, pair=self.spec.pair_id, generation=self.spec.generation)
            else:
                self._send_log = SendIndex(directory, pair=self.spec.pair_id, generation=self.spec.generation)
        return self._send_log

    def _resync_ended(self, end: int) -> None:
        """The scan read the whole disk: the change log up to ``end`` makes the target consistent (persisted, so a
        restart in the catch-up knows where the resync window closes)."""
        self.resync_end = end
        self._on_resync_end(end)

    def _stream_broken(self, error: FailbackError) -> None:
        """Report the loss at once (a silent partition is noticed by the keepalives, not by the sender's waits)."""
        with self._lock:
            self._connected = False
        self.progress.error(error)
        sender = self._sender
        if sender is not None:
            sender.interrupt()

    def _on_ack(self, watermark: int) -> None:
        sender = self._sender
        if sender is not None:
            sender.acknowledge(watermark)

    def _on_cursor(self, cursor: int) -> None:
        """The source cursor the master target has acknowledged up to."""
        self._acked_cursor = cursor
        if self._feed is not None:
            self._feed.acknowledged(cursor)
            return
        scan = self._scan
        position = ReprotectSource.log_position(cursor)
        if position is not None:
            if self._reprotect is not None and self._reprotect.consistent(cursor):
                self.progress.resync(None)
            else:
                self.progress.resync(1.0)  # scanned; the change log is catching up to the resync's end
            if self._acknowledged is not None:
                self._acknowledged.publish(position)
        elif scan is not None:
            self.progress.resync(1.0 if cursor >= scan.done_cursor else cursor / max(scan.size, 1))

    def _phase(self) -> SourcePhase:
        if self.spec.kind is SourceKind.AZURE_SNAPSHOTS:
            return SourcePhase.SNAPSHOT_CYCLES
        cursor = self._send_log.resume_cursor if self._send_log is not None else 0
        return SourcePhase.CHANGE_LOG if cursor >= LOG_PHASE else SourcePhase.SCAN

    def _finished(self) -> bool:
        """A SCAN pair whose pass is complete and acknowledged has nothing more to send."""
        send_log, scan = self._send_log, self._scan
        if self.spec.kind is not SourceKind.SCAN or send_log is None or scan is None:
            return False
        return send_log.resume_cursor >= scan.done_cursor and send_log.acknowledged == send_log.next_seq - 1

    # -- reporting -------------------------------------------------------------------------------------------------

    def status(self) -> SourceStatus:
        progress = self.progress.snapshot()
        with self._lock:
            connected = self._connected
            connects = self._connects
        phase = self._phase()
        point, age = self._feed.acknowledged_point() if self._feed is not None else (None, None)
        if self._failed is not None:
            state, reason = SourceState.FAILED, self._failed
        elif self._done:
            state, reason = SourceState.SYNCED, "the resync pass is complete"
        elif not connected:
            state = SourceState.DISCONNECTED
            reason = progress.last_error or "connecting to the master target"
        elif phase is SourcePhase.SNAPSHOT_CYCLES and point is None:
            state, reason = SourceState.RESYNCING, "the first cycle: a resync pass to the VM's first point"
        elif phase is SourcePhase.SCAN:
            state, reason = SourceState.RESYNCING, "resync pass"
        elif self._reprotect is not None and not self._reprotect.consistent(self._acked_cursor or 0):
            state, reason = SourceState.RESYNCING, "the change log is catching up with the resync pass"
        else:
            state, reason = SourceState.REPLICATING, ""
        durable = acknowledged = 0
        log_dir = self.spec.change_log_dir
        if self.spec.kind is SourceKind.SCAN_THEN_CHANGE_LOG and log_dir is not None:
            durable = read_durable(log_dir)
            if phase is SourcePhase.CHANGE_LOG:
                # The published hint survives restarts; it only ever lags the truth (never trims too much).
                acknowledged = max(read_acknowledged(log_dir), self.log_start)
                if self._acked_cursor is not None:
                    acknowledged = max(acknowledged, ReprotectSource.log_position(self._acked_cursor) or 0)
        return SourceStatus(
            self.spec,
            state,
            reason,
            phase,
            connected,
            progress,
            connects,
            acknowledged_point=point,
            point_age=age,
            log_durable=durable,
            log_acknowledged=acknowledged,
        )

    # -- the source, for attestation ---------------------------------------------------------------------------------

    def _log_dir(self) -> str:
        if self.spec.kind is not SourceKind.SCAN_THEN_CHANGE_LOG or self.spec.change_log_dir is None:
            raise NoChangeLog(
                f"pair {self.spec.pair_id} reads {self.spec.source_path} without a change log: this process server "
                "cannot tell what the source held at a bookmark"
            )
        return self.spec.change_log_dir

    def writer_active(self) -> bool | None:
        """Whether the source's change tracker has its log open (None for a pair without a change log)."""
        if self.spec.kind is not SourceKind.SCAN_THEN_CHANGE_LOG or self.spec.change_log_dir is None:
            return None
        return writer_active(self.spec.change_log_dir)

    def source_digest(self, bookmark_id: str | None, *, at_end: bool = False) -> SourceDigest:
        """The source disk's digest at a bookmark (the newest if None), or at the end of its change log: see
        agent.dataplane.digest_at_bookmark and digest_at_end."""
        if at_end:
            return digest_at_end(
                self.spec.source_path, self._log_dir(), acknowledged=lambda: self.status().log_acknowledged
            )
        return digest_at_bookmark(self.spec.source_path, self._log_dir(), bookmark_id)


def _disk_size(path: str) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
