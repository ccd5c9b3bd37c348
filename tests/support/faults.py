"""Things a fault test can break for real: a Redis server of its own and a TCP proxy it can cut.

Never the shared PostgreSQL/Redis: a PostgreSQL outage is the proxy between a server
and PostgreSQL being cut (every connection reset, new ones refused), a Redis outage is
this module's own redis-server being stopped (and started again on the same port).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import free_port


def _wait_port(port: int, *, up: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            is_up = s.connect_ex(("127.0.0.1", port)) == 0
        if is_up == up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not go {'up' if up else 'down'}")


@dataclass
class RedisServer:
    """A throwaway redis-server on a free port (no persistence)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _wait_port(self.port, up=True)
        return self

    def stop(self) -> None:
        """Kill it (SIGKILL: no goodbye to clients, like a crash or a cut network)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
        _wait_port(self.port, up=False)


class TcpProxy:
    """A loopback TCP proxy in a thread of its own. `cut()` resets every connection and
    refuses new ones until `restore()`; `freeze()` silently drops everything in both
    directions, closes included (a half-open path: no FIN, no RST), until `thaw()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"proxy-{self.port}", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.frozen = False
        self._thread.start()

    def _call(self, coro: object, timeout: float = 10.0) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]

    def start(self) -> TcpProxy:
        self._call(self._listen())
        return self

    def cut(self) -> None:
        self._call(self._cut())
        _wait_port(self.port, up=False)

    def restore(self) -> None:
        self._call(self._listen())

    def freeze(self) -> None:
        self.frozen = True

    def thaw(self) -> None:
        self.frozen = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                sock = writer.get_extra_info("socket")
                if sock is not None:  # RST, not FIN: the peer learns on its next read or write
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self.frozen:
                        continue  # lost on the way
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                if not self.frozen:  # a frozen path carries no FIN either
                    with contextlib.suppress(Exception):
                        dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


class UdpProxy:
    """A loopback UDP proxy (one upstream socket per client address) that loses a chosen
    share of the datagrams in both directions: `loss = 0.3`, or 1.0 for a dead path."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port(socket.SOCK_DGRAM)
        self.loss = 0.0
        self.dropped = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"udp-proxy-{self.port}", daemon=True)
        self._front: asyncio.DatagramTransport | None = None
        self._upstreams: dict[tuple[str, int], asyncio.DatagramTransport] = {}
        self._pending: dict[tuple[str, int], list[bytes]] = {}
        self._thread.start()

    def start(self) -> UdpProxy:
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def close(self) -> None:
        def stop() -> None:
            for transport in [*self._upstreams.values(), self._front]:
                if transport is not None:
                    transport.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(5)

    def _lost(self) -> bool:
        if self.loss and random.random() < self.loss:
            self.dropped += 1
            return True
        return False

    async def _listen(self) -> None:
        proxy = self

        class Front(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if proxy._lost():
                    return
                upstream = proxy._upstreams.get(addr)
                if upstream is not None:
                    upstream.sendto(data)
                elif addr in proxy._pending:
                    proxy._pending[addr].append(data)
                else:
                    proxy._pending[addr] = [data]
                    proxy._loop.create_task(proxy._open_upstream(addr))

        self._front, _ = await self._loop.create_datagram_endpoint(Front, local_addr=("127.0.0.1", self.port))

    async def _open_upstream(self, client: tuple[str, int]) -> None:
        proxy = self

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if not proxy._lost() and proxy._front is not None:
                    proxy._front.sendto(data, client)

        upstream, _ = await self._loop.create_datagram_endpoint(Back, remote_addr=self.target)
        self._upstreams[client] = upstream
        for data in self._pending.pop(client, []):
            upstream.sendto(data)
