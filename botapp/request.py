"""A lean HTTP/1.1 client for the bot's Bot API calls, plugged into python-telegram-bot (``BaseRequest``).

Why not PTB's default ``HTTPXRequest``: measured here, one Bot API call through httpx,
httpcore and anyio costs ≈ 0.55 ms of CPU (request and response models, an anyio
checkpoint per read and write, and httpcore scanning every pooled connection with two
system calls on each request); an update makes two or three calls, so the HTTP client
alone was half of the bot's CPU. Through asyncio streams a call costs ≈ 0.13 ms.

What it does: ``POST`` of URL-encoded parameters (as ``HTTPXRequest`` sends them) over
kept-alive connections per host (plain or TLS with certifi's roots, like httpx), a limit
of connections in use, connect/write/read/pool timeouts, and responses with a length,
chunked, or read until the server closes. Calls that upload files go to an
``HTTPXRequest``: they are rare, large and need multipart encoding. Errors become PTB's
``TimedOut`` / ``NetworkError``; their messages never contain the URL (it holds the token).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

KEEPALIVE_SECONDS = 5.0  # an idle connection is reused this long (httpx's default keep-alive expiry)


@dataclass(frozen=True)
class _Target:
    """Where a URL goes: ``(scheme, host, port)``, the ``Host`` header and the request path."""

    origin: tuple[str, str, int]
    host_header: str
    path: str


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)

    def usable(self, now: float) -> bool:
        """Still open at both ends (a server that closed an idle connection has sent EOF) and not idle too long."""
        return not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < KEEPALIVE_SECONDS

    def close(self) -> None:
        self.writer.close()


class LeanRequest(BaseRequest):
    """``BaseRequest`` over asyncio streams with kept-alive connections; at most ``pool_size`` calls at once."""

    def __init__(
        self, *, pool_size: int = 64, read_timeout: float | None = 5.0, write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0, pool_timeout: float | None = 1.0, ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context`` for ``https://`` URLs: certifi's roots by default (as httpx), another for a private CA."""
        self._timeouts = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout, "pool": pool_timeout}
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._targets: dict[str, _Target] = {}
        self._ssl = ssl_context
        self._closed = False
        self._uploads = HTTPXRequest(
            connection_pool_size=4, read_timeout=read_timeout, write_timeout=write_timeout,
            connect_timeout=connect_timeout, pool_timeout=pool_timeout,
        )

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        self._closed = False
        await self._uploads.initialize()

    async def shutdown(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        await self._uploads.shutdown()

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._closed:
            raise RuntimeError("This LeanRequest is not initialized!")
        if request_data is not None and request_data.contains_files:
            return await self._uploads.do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout,
            )
        target = self._target(url)
        body = request_data.url_encoded_parameters().encode("ascii") if request_data is not None else b""
        request = (
            f"{method} {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\nUser-Agent: {self.USER_AGENT}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("ascii") + body
        await self._take_slot(self._timeout("pool", pool_timeout))
        connection: _Connection | None = None
        keep = False
        try:
            connection = self._reuse(target.origin) or await self._connect(target, self._timeout("connect", connect_timeout))
            status, payload, keep = await self._exchange(
                connection, request, self._timeout("write", write_timeout), self._timeout("read", read_timeout),
            )
            return status, payload
        except TimeoutError as exc:
            raise TimedOut(f"Bot API call {_method(target)} timed out") from exc
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError) as exc:
            # The message names the method, never the URL (it holds the token); OS errors name only the address.
            raise NetworkError(f"Bot API call {_method(target)} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if connection is not None:
                if keep and not self._closed:
                    connection.idle_since = time.monotonic()
                    self._idle.setdefault(target.origin, []).append(connection)
                else:
                    connection.close()
            self._slots.release()

    # --- pieces ---------------------------------------------------------------------------
    def _timeout(self, kind: str, given: ODVInput[float]) -> float | None:
        return self._timeouts[kind] if isinstance(given, DefaultValue) else given

    def _target(self, url: str) -> _Target:
        """``url`` split once: the bot calls a few dozen distinct URLs (base URL + method name)."""
        target = self._targets.get(url)
        if target is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise NetworkError(f"Unsupported Bot API URL scheme: {parts.scheme!r}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            target = _Target((parts.scheme, parts.hostname, port), host, path)
            if len(self._targets) < 1024:
                self._targets[url] = target
        return target

    async def _take_slot(self, timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut(
                "Pool timeout: all connections are busy; the request was not sent. Raise pool_size or pool_timeout."
            ) from None

    def _reuse(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recently used one: least likely to have been closed by the server
            if connection.usable(now):
                return connection
            connection.close()
        return None

    async def _connect(self, target: _Target, timeout: float | None) -> _Connection:
        scheme, host, port = target.origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context(cafile=certifi.where())
            context = self._ssl
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
        return _Connection(reader, writer)

    @staticmethod
    async def _exchange(
        connection: _Connection, request: bytes, write_timeout: float | None, read_timeout: float | None,
    ) -> tuple[int, bytes, bool]:
        """Send ``request``, read the response: status, body, and whether the connection may be reused."""
        reader, writer = connection.reader, connection.writer
        writer.write(request)
        if writer.transport.get_write_buffer_size():  # the socket did not take it all at once
            async with asyncio.timeout(write_timeout):
                await writer.drain()
        async with asyncio.timeout(read_timeout):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                status_line, _, header_lines = head.partition(b"\r\n")
                version, status_text = status_line.split(b" ", 2)[:2]
                status = int(status_text)
                if status >= 200 or status == 101:
                    break  # 1xx (100 Continue) precede the real response
            headers: dict[bytes, bytes] = {}
            for line in header_lines.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            keep = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                body = await _read_chunked(reader)
            elif b"content-length" in headers:
                body = await reader.readexactly(int(headers[b"content-length"]))
            else:
                body, keep = await reader.read(), False  # the body ends when the server closes
        return status, body, keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailer fields, then the empty line
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the CRLF after each chunk


def _method(target: _Target) -> str:
    """The Bot API method name from a request path (``/bot<token>/sendMessage`` → ``sendMessage``), never the token."""
    return target.path.rsplit("/", 1)[-1].split("?", 1)[0]
