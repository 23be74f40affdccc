"""A small asyncio TCP proxy for network faults between a process server and a master target (toxiproxy's toxics,
in-tree): latency, a cut after N bytes, resets (RST), a blackhole, bit flips in the client's byte stream.

It runs its event loop on a thread of its own; the test changes the faults from its thread. Every connection the
client opens is forwarded to ``upstream``; the faults apply to connections opened or running while they are set.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from dataclasses import dataclass


@dataclass
class Faults:
    latency: float = 0.0  # seconds added before each forwarded chunk
    cut_after: int | None = None  # close a connection once it forwarded this many client bytes
    flip_at: int | None = None  # flip one bit of the client's byte at this offset of each new connection
    blackhole: bool = False  # stop forwarding (nothing is closed: the peers just wait)


class Proxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.faults = Faults()
        self.connections = 0
        self.forwarded = 0  # bytes, both directions, every connection
        self.cuts = 0
        self.flips = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._started.wait(10)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()

    def _call(self, function) -> None:  # type: ignore[no-untyped-def]
        done = threading.Event()

        def run() -> None:
            try:
                function()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def reset_all(self) -> None:
        """Abort every connection with a TCP RST."""

        def reset() -> None:
            for writer in list(self._writers):
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
            self._writers.clear()

        self._call(reset)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, upstream_writer))
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, outbound=True),
            self._pipe(upstream_reader, client_writer, outbound=False),
            return_exceptions=True,
        )
        for writer in (client_writer, upstream_writer):
            self._writers.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, outbound: bool) -> None:
        """Forward one direction. The faults are read live: a cut or a flip set while a connection runs hits it
        as soon as it has forwarded that many bytes (at once, if it already has)."""
        forwarded = 0
        flipped = False
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                while self.faults.blackhole:
                    await asyncio.sleep(0.05)
                if self.faults.latency:
                    await asyncio.sleep(self.faults.latency)
                flip_at = self.faults.flip_at
                if outbound and not flipped and flip_at is not None and forwarded + len(data) > flip_at:
                    damaged = bytearray(data)
                    damaged[max(0, flip_at - forwarded)] ^= 0x10
                    data, flipped = bytes(damaged), True
                    self.flips += 1
                forwarded += len(data)
                self.forwarded += len(data)
                writer.write(data)
                await writer.drain()
                cut_after = self.faults.cut_after
                if outbound and cut_after is not None and forwarded >= cut_after:
                    self.cuts += 1
                    break
        finally:
            writer.close()

    def close(self) -> None:
        self.reset_all()

        def stop() -> None:
            self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(10)
        self._loop.close()
