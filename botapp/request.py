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
from urllib.request import getproxies_environment, proxy_bypass_environment

import aiohttp
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


class AiohttpRequest(BaseRequest):
    """``BaseRequest`` on aiohttp's ``ClientSession`` (HTTP parser in C): kept-alive connections, at most ``pool_size``.

    Honours ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` from the environment, as PTB's httpx
    client does; they are read once, at ``initialize``, not through aiohttp's ``trust_env``, which
    looks them (and ``~/.netrc``) up again on two worker threads for every request: measured here,
    that tripled the CPU of a call (≈ 0.3 ms more) and cut the bot's updates/s by a third. Plain calls are sent URL-encoded, uploads as multipart, both as
    ``HTTPXRequest`` sends them. Errors become ``TimedOut`` / ``NetworkError`` naming the Bot
    API method only: several aiohttp errors put the URL, which holds the token, in their text,
    so neither that text nor the original exception (``from None``) goes into ours.
    """

    def __init__(
        self, *, pool_size: int = 64, read_timeout: float | None = 5.0, write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0, pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context`` for ``https://`` URLs: certifi's roots by default (as httpx), another for a private CA."""
        self._pool_size = pool_size
        self._timeouts = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout, "pool": pool_timeout}
        self._media_write_timeout = media_write_timeout
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._env_proxies: dict[str, str] = {}
        self._proxy_for: dict[str, str | None] = {}
        # Waiting for a free connection happens here, bounded by the pool timeout and reported as such;
        # aiohttp would count that wait into its connect timeout, unlike PTB (made anew in ``initialize``, for the loop then running).
        self._slots = asyncio.Semaphore(pool_size)
        self._default_timeout = self._client_timeout(connect_timeout, write_timeout, read_timeout)

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        """Open the session on the running loop (aiohttp binds it to the loop it is created on)."""
        if self._session is not None and not self._session.closed:
            return
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=certifi.where())
        self._env_proxies = _proxies_from_environment()
        self._proxy_for.clear()
        self._slots = asyncio.Semaphore(self._pool_size)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=self._ssl),
            headers={"User-Agent": self.USER_AGENT}, timeout=self._default_timeout,
        )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        name = _api_method(url)
        uploads = request_data is not None and request_data.contains_files
        data: aiohttp.FormData | bytes | None = None
        headers = None
        if uploads:
            data = _form(request_data)
        elif request_data is not None:
            data = request_data.url_encoded_parameters().encode("ascii")
            headers = _URLENCODED
        timeout = self._default_timeout
        if uploads or not all(isinstance(given, DefaultValue) for given in (read_timeout, write_timeout, connect_timeout)):
            if uploads and isinstance(write_timeout, DefaultValue):
                write_timeout = self._media_write_timeout
            timeout = self._client_timeout(
                self._timeout("connect", connect_timeout), self._timeout("write", write_timeout),
                self._timeout("read", read_timeout),
            )
        await self._take_slot(self._timeout("pool", pool_timeout))
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout, proxy=self._proxy(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError:
            raise TimedOut(f"Bot API call {name} timed out") from None
        except aiohttp.ClientError as exc:
            raise NetworkError(f"Bot API call {name} failed: {_describe(exc)}") from None
        finally:
            self._slots.release()

    # --- pieces ---------------------------------------------------------------------------
    def _timeout(self, kind: str, given: ODVInput[float]) -> float | None:
        return self._timeouts[kind] if isinstance(given, DefaultValue) else given

    @staticmethod
    def _client_timeout(connect: float | None, write: float | None, read: float | None) -> aiohttp.ClientTimeout:
        """aiohttp has no write timeout, so the whole call is bounded by connect + write + read (when all are set).

        ``connect`` covers DNS, TCP, a proxy's CONNECT and TLS; ``sock_read`` starts once the request is sent.
        """
        total = connect + write + read if None not in (connect, write, read) else None
        return aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=read)

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

    def _proxy(self, url: str) -> str | None:
        """The environment's proxy for ``url``'s scheme unless ``NO_PROXY`` covers its host; worked out once per URL."""
        if url not in self._proxy_for:
            parts = urlsplit(url)
            bypass = proxy_bypass_environment(parts.hostname or "", self._env_proxies)
            proxy = None if bypass else self._env_proxies.get(parts.scheme)
            if len(self._proxy_for) >= 1024:  # the bot calls a few dozen URLs; file downloads add more
                self._proxy_for.clear()
            self._proxy_for[url] = proxy
        return self._proxy_for[url]


def _proxies_from_environment() -> dict[str, str]:
    """``{"https": …, "http": …, "no": …}`` from ``HTTPS_PROXY`` etc. (either case), as aiohttp's ``trust_env`` reads them."""
    proxies = getproxies_environment()
    for scheme in ("http", "https"):
        proxy = proxies.get(scheme)
        if proxy and urlsplit(proxy).scheme not in ("http", "https"):
            raise ValueError(
                f"{scheme.upper()}_PROXY: only an http:// (or https://) proxy is supported, not {urlsplit(proxy).scheme}://"
            )
    return proxies


_URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


def _form(request_data: RequestData) -> aiohttp.FormData:
    """Parameters and files as one ``multipart/form-data`` body, the way ``HTTPXRequest`` sends them."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


def _api_method(url: str) -> str:
    """The Bot API method from a URL (``…/bot<token>/sendMessage`` → ``sendMessage``), never the token."""
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


def _describe(exc: aiohttp.ClientError) -> str:
    """The error's kind and its OS, TLS or HTTP reason, without ``str(exc)``: for several aiohttp errors it holds the URL."""
    if isinstance(exc, aiohttp.ClientResponseError):  # e.g. a proxy refusing the tunnel
        return f"{type(exc).__name__} {exc.status} {exc.message}"
    reason = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None)
    return f"{type(exc).__name__} ({type(reason).__name__}: {reason})" if reason else type(exc).__name__
