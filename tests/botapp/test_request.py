"""The bot's HTTP client (``AiohttpRequest``) against real sockets: keep-alive, failures, TLS, proxies from the environment.

The conversation tests already run every call through it against the local Bot API
server; here scripted raw servers answer in the less common ways a Bot API server or a
network in front of one may (closing an idle connection, not answering, refusing), and a
small HTTP proxy stands in for the one a VPS may have to reach Telegram through.
"""

import asyncio
import base64
import json
import shutil
import ssl
import subprocess
from collections.abc import Callable

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from botapp.request import AiohttpRequest
from tests.botapi import BotApiServer

TOKEN = "123456:SECRET-TOKEN"
ME = {"id": 7000000001, "is_bot": True, "first_name": "СТО Запись", "username": "sto_test_bot"}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")

Respond = Callable[[bytes], bytes | None]  # request → raw response (None: say nothing)


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch):
    """Each test starts with no proxy variables, whatever the machine running the tests has."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def ok(result: object) -> bytes:
    body = json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


class RawServer:
    """A TCP server on 127.0.0.1 answering each request with ``respond(request)``; counts connections."""

    def __init__(self, respond: Respond, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.respond = respond
        self.tls = tls
        self.host = host  # the name in the URLs the bot is given (a proxy may be the only way to it)
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> "RawServer":  # noqa: PYI034 (a plain class)
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/bot"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                response = self.respond(request)
                if response is None:
                    await asyncio.sleep(3600)
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def drop_idle_connections(self) -> None:
        """Close every connection from the server's side, as a server does with idle keep-alive connections."""
        for writer in self.writers:
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep(0.05)  # one more turn of the loop: the client's side reads the EOF


class Proxy:
    """An HTTP proxy on 127.0.0.1 that sends everything to one upstream port, whatever host is asked for.

    ``CONNECT host:port`` (an ``https://`` URL through the proxy) opens a tunnel; a plain request
    (an ``http://`` URL) is passed on as it came. Keeps the head of what each client asked first.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.heads: list[bytes] = []

    async def __aenter__(self) -> "Proxy":  # noqa: PYI034 (a plain class)
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        if head.startswith(b"CONNECT "):
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            up_writer.write(head)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def me_always(request: bytes) -> bytes:
    return ok(ME)


async def _calls(base_url: str, count: int, **options: object) -> list[dict]:
    """``count`` getMe calls (after the one ``Bot`` makes when it starts)."""
    async with Bot(TOKEN, base_url=base_url, request=AiohttpRequest(**options)) as bot:
        return [(await bot.get_me()).to_dict() for _ in range(count)]


def test_consecutive_calls_share_one_kept_alive_connection():
    async def scenario():
        async with RawServer(me_always) as server:
            users = await _calls(server.base_url, 5)
            return users, server.connections, server.requests

    users, connections, requests = asyncio.run(scenario())
    assert [user["username"] for user in users] == ["sto_test_bot"] * 5
    assert connections == 1
    assert requests[0].startswith(f"POST /bot{TOKEN}/getMe HTTP/1.1\r\n".encode())


def test_a_connection_the_server_closed_while_idle_is_not_reused():
    async def scenario():
        async with RawServer(me_always) as server:
            async with Bot(TOKEN, base_url=server.base_url, request=AiohttpRequest()) as bot:
                await bot.get_me()
                await server.drop_idle_connections()
                again = await bot.get_me()
            return again.username, server.connections

    assert asyncio.run(scenario()) == ("sto_test_bot", 2)


def test_a_server_that_does_not_answer_times_out_without_the_token_in_the_error():
    async def scenario():
        # Starting the ``Bot`` calls getMe: it must fail, not hang.
        async with RawServer(lambda request: None) as server, \
                Bot(TOKEN, base_url=server.base_url, request=AiohttpRequest(read_timeout=0.2)):
            pass

    with pytest.raises(TimedOut) as raised:
        asyncio.run(scenario())
    assert TOKEN not in str(raised.value) and "getMe" in str(raised.value)


def test_a_refused_connection_is_a_network_error_without_the_token():
    async def scenario():
        async with RawServer(me_always) as server:
            url = server.base_url
        async with Bot(TOKEN, base_url=url, request=AiohttpRequest()) as bot:
            await bot.get_me()

    with pytest.raises(NetworkError) as raised:
        asyncio.run(scenario())
    assert TOKEN not in str(raised.value) and "getMe" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # a traceback shows no URL either


def test_when_every_connection_is_busy_a_call_waits_at_most_the_pool_timeout():
    async def scenario():
        async with RawServer(lambda request: None if b"getMe" in request else ok(True)) as server:
            request = AiohttpRequest(pool_size=1, read_timeout=5, pool_timeout=0.1)
            await request.initialize()
            bot = Bot(TOKEN, base_url=server.base_url, request=request)
            stuck = asyncio.create_task(bot.get_me())
            await asyncio.sleep(0.05)
            try:
                await bot.delete_webhook()
            finally:
                stuck.cancel()
                await request.shutdown()

    with pytest.raises(TimedOut, match="Pool timeout"):
        asyncio.run(scenario())


def test_a_file_upload_goes_through_with_its_contents_and_the_other_parameters():
    async def scenario():
        with BotApiServer() as server:
            async with Bot(server.token, base_url=server.base_url, request=AiohttpRequest()) as bot:
                await bot.send_document(42, document=b"%PDF-1.4 report", filename="report.pdf", caption="Отчёт")
            return server.calls("sendDocument")[0].params

    params = asyncio.run(scenario())
    assert params["document"] == {"filename": "report.pdf", "size": len(b"%PDF-1.4 report")}
    assert params["caption"] == "Отчёт"
    assert params["chat_id"] == "42"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 and telegram.test: (server context, client context trusting it)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days",
         "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:telegram.test"],
        check=True, capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


def test_it_talks_tls_to_a_server_it_trusts_and_keeps_the_connection(certificate):
    server_tls, trusting = certificate

    async def scenario():
        async with RawServer(me_always, tls=server_tls) as server:
            return await _calls(server.base_url, 3, ssl_context=trusting), server.connections

    users, connections = asyncio.run(scenario())
    assert [user["username"] for user in users] == ["sto_test_bot"] * 3
    assert connections == 1


def test_it_refuses_a_server_whose_certificate_is_not_trusted(certificate):
    server_tls, _ = certificate

    async def scenario():
        async with RawServer(me_always, tls=server_tls) as server, \
                Bot(TOKEN, base_url=server.base_url, request=AiohttpRequest()):
            pass

    with pytest.raises(NetworkError, match="SSLCertVerificationError") as raised:
        asyncio.run(scenario())
    assert TOKEN not in str(raised.value)


def test_https_goes_through_the_proxy_named_in_https_proxy(certificate, monkeypatch):
    """As on a VPS that reaches api.telegram.org only through a proxy: the name resolves nowhere but at the proxy."""
    server_tls, trusting = certificate

    async def scenario():
        async with RawServer(me_always, tls=server_tls, host="telegram.test") as server, \
                Proxy(server.port) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
            users = await _calls(server.base_url, 2, ssl_context=trusting)
            return users, proxy.heads, server.port

    users, heads, port = asyncio.run(scenario())
    assert [user["username"] for user in users] == ["sto_test_bot"] * 2
    assert len(heads) == 1, "one tunnel, kept alive"
    assert heads[0].startswith(f"CONNECT telegram.test:{port} HTTP/1.1\r\n".encode())


def test_http_goes_through_the_proxy_in_http_proxy_with_its_credentials(monkeypatch):
    async def scenario():
        async with RawServer(me_always, host="telegram.test") as server, Proxy(server.port) as proxy:
            monkeypatch.setenv("http_proxy", proxy.url.replace("http://", "http://shop:p%40ss@"))
            return await _calls(server.base_url, 1), proxy.heads, server.port

    users, heads, port = asyncio.run(scenario())
    assert users[0]["username"] == "sto_test_bot"
    assert heads[0].startswith(f"POST http://telegram.test:{port}/bot{TOKEN}/getMe HTTP/1.1\r\n".encode())
    credentials = base64.b64encode(b"shop:p@ss").decode()
    assert f"Proxy-Authorization: Basic {credentials}\r\n".encode() in heads[0]


def test_hosts_in_no_proxy_are_reached_directly(monkeypatch):
    async def scenario():
        async with RawServer(me_always) as server, Proxy(server.port) as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
            return await _calls(server.base_url, 1), proxy.heads

    users, heads = asyncio.run(scenario())
    assert users[0]["username"] == "sto_test_bot"
    assert heads == []


def test_a_proxy_that_is_down_is_a_network_error_without_the_token_or_the_proxy_password(monkeypatch):
    async def scenario():
        async with RawServer(me_always) as closed:
            url = closed.base_url
        monkeypatch.setenv("HTTP_PROXY", url.replace("http://", "http://shop:secret@").removesuffix("/bot"))
        async with Bot(TOKEN, base_url="http://telegram.test/bot", request=AiohttpRequest()):
            pass

    with pytest.raises(NetworkError) as raised:
        asyncio.run(scenario())
    assert TOKEN not in str(raised.value) and "secret" not in str(raised.value)
    assert "getMe" in str(raised.value)


def test_a_socks_proxy_is_refused_at_start_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")

    async def scenario():
        async with AiohttpRequest():
            pass

    with pytest.raises(ValueError, match="HTTPS_PROXY: only an http:// proxy is supported, not socks5://"):
        asyncio.run(scenario())
