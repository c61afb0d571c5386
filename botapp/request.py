"""The bot's Bot API client, plugged into python-telegram-bot: ``AiohttpRequest``, a ``BaseRequest`` on aiohttp.

Why not PTB's default ``HTTPXRequest``: httpx, httpcore and anyio spend much CPU per call
(request and response models, an anyio checkpoint per read and write, httpcore scanning
every pooled connection with two system calls on each request); an update makes two or
three calls, so the HTTP client was half of the bot's CPU. ``send_message`` to the local
Bot API server, 8 at a time, PTB's own work included: ≈ 1.1 ms of CPU per call through
httpx, ≈ 0.28 ms through aiohttp's client, whose HTTP parser is in C (BENCHMARKS.md,
"Telegram bot").
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """``BaseRequest`` on aiohttp's ``ClientSession`` (HTTP parser in C): kept-alive connections, at most ``pool_size``.

    Honours ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` from the environment, as PTB's httpx
    client does (a VPS that reaches Telegram only through a proxy). They are read once, at
    ``initialize``, rather than through aiohttp's ``trust_env``, which looks them and ``~/.netrc``
    up again on two worker threads for every request: measured here, that doubled the CPU of a
    call (≈ 0.3 ms more). Plain calls are sent URL-encoded, uploads as multipart,
    both as ``HTTPXRequest`` sends them. Errors become ``TimedOut`` / ``NetworkError`` naming the Bot
    API method only: several aiohttp errors put the URL, which holds the token, in their text,
    so neither that text nor the original exception (``from None``) goes into ours.
    """

    def __init__(
        self, *, pool_size: int = 64, read_timeout: float | None = 5.0, write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0, pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Timeouts in seconds, as ``HTTPXRequest``'s (``media_write_timeout``: writing a call that uploads files).

        ``ssl_context`` for ``https://`` URLs: certifi's roots by default (as httpx), another for a private CA.
        """
        self._pool_size = pool_size
        self._timeouts = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout, "pool": pool_timeout}
        self._media_write_timeout = media_write_timeout
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._env_proxies: dict[str, str] = {}
        self._proxy_for: dict[str, str | None] = {}
        # Waiting for a free connection happens here, bounded by the pool timeout and reported as such
        # (aiohttp would count that wait into its connect timeout). Made anew in ``initialize``.
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
        timeout = self._call_timeout(uploads, connect_timeout, write_timeout, read_timeout)
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

    def _call_timeout(
        self, uploads: bool, connect: ODVInput[float], write: ODVInput[float], read: ODVInput[float],
    ) -> aiohttp.ClientTimeout:
        """The session's timeouts, unless the call sets its own (getUpdates does) or uploads files (a longer write)."""
        if not uploads and all(isinstance(given, DefaultValue) for given in (connect, write, read)):
            return self._default_timeout
        if uploads and isinstance(write, DefaultValue):
            write = self._media_write_timeout
        return self._client_timeout(
            self._timeout("connect", connect), self._timeout("write", write), self._timeout("read", read),
        )

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
    """``{"https": …, "http": …, "no": …}`` from ``HTTPS_PROXY`` etc. (either case), as ``trust_env`` would read them."""
    proxies = getproxies_environment()
    for scheme in ("http", "https"):
        proxy = proxies.get(scheme)
        if proxy and urlsplit(proxy).scheme != "http":  # aiohttp's own reading of the environment skips the rest
            raise ValueError(f"{scheme.upper()}_PROXY: only an http:// proxy is supported, not {urlsplit(proxy).scheme}://")
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
