"""The bot's HTTP client (``LeanRequest``) against real sockets: keep-alive, the shapes of HTTP responses, failures.

The conversation tests already run every call through it against the local Bot API
server; here a scripted raw server answers in the less common ways a Bot API server or
a proxy in front of one may (chunked, no length, ``Connection: close``, closing an idle
connection, not answering at all).
"""

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import Callable

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from botapp.request import LeanRequest
from tests.botapi import BotApiServer

TOKEN = "123456:SECRET-TOKEN"
ME = {"id": 7000000001, "is_bot": True, "first_name": "СТО Запись", "username": "sto_test_bot"}

Respond = Callable[[bytes], bytes | None]  # request → raw response (None: say nothing)


def ok(result: object, *, headers: str = "", chunked: bool = False, length: bool = True) -> bytes:
    body = json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()
    if chunked:
        middle = len(body) // 2
        parts = [body[:middle], body[middle:]]
        payload = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
        return f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{headers}\r\n".encode() + payload
    size = f"Content-Length: {len(body)}\r\n" if length else ""
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{size}{headers}\r\n".encode() + body


class RawServer:
    """A TCP server on 127.0.0.1 answering each request with ``respond(request)``; counts connections."""

    def __init__(self, respond: Respond, *, close_after_each: bool = False, tls: ssl.SSLContext | None = None) -> None:
        self.respond = respond
        self.tls = tls
        self.close_after_each = close_after_each
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
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/bot"

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
                if self.close_after_each or b"Connection: close" in response or b"Content-Length" not in response \
                        and b"chunked" not in response:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def drop_idle_connections(self) -> None:
        """Close every connection from the server's side, as a server does with idle keep-alive connections."""
        for writer in self.writers:
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep(0.05)  # one more turn of the loop: the client's side reads the EOF


def me_always(request: bytes) -> bytes:
    return ok(ME)


async def _calls(base_url: str, count: int, **options: object) -> list[dict]:
    """``count`` getMe calls (after the one ``Bot`` makes when it starts)."""
    async with Bot(TOKEN, base_url=base_url, request=LeanRequest(**options)) as bot:
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


@pytest.mark.parametrize("shape", ["chunked", "until close", "connection close"])
def test_it_reads_every_shape_of_response_and_reconnects_when_the_server_closes(shape):
    respond = {
        "chunked": lambda request: ok(ME, chunked=True),
        "until close": lambda request: ok(ME, length=False),
        "connection close": lambda request: ok(ME, headers="Connection: close\r\n"),
    }[shape]

    async def scenario():
        async with RawServer(respond) as server:
            return await _calls(server.base_url, 3), server.connections

    users, connections = asyncio.run(scenario())
    assert [user["first_name"] for user in users] == ["СТО Запись"] * 3
    assert connections == (1 if shape == "chunked" else 4)  # one per call: the bot's getMe at start and three


def test_a_connection_the_server_closed_while_idle_is_not_reused():
    async def scenario():
        async with RawServer(me_always) as server:
            async with Bot(TOKEN, base_url=server.base_url, request=LeanRequest()) as bot:
                await bot.get_me()
                await server.drop_idle_connections()
                again = await bot.get_me()
            return again.username, server.connections

    assert asyncio.run(scenario()) == ("sto_test_bot", 2)


def test_a_server_that_does_not_answer_times_out_without_the_token_in_the_error():
    async def scenario():
        # Starting the ``Bot`` calls getMe: it must fail, not hang.
        async with RawServer(lambda request: None) as server, \
                Bot(TOKEN, base_url=server.base_url, request=LeanRequest(read_timeout=0.2)):
            pass

    with pytest.raises(TimedOut) as raised:
        asyncio.run(scenario())
    assert TOKEN not in str(raised.value) and "getMe" in str(raised.value)


def test_a_refused_connection_is_a_network_error_without_the_token():
    async def scenario():
        async with RawServer(me_always) as server:
            url = server.base_url
        async with Bot(TOKEN, base_url=url, request=LeanRequest()) as bot:
            await bot.get_me()

    with pytest.raises(NetworkError) as raised:
        asyncio.run(scenario())
    assert TOKEN not in str(raised.value)


def test_when_every_connection_is_busy_a_call_waits_at_most_the_pool_timeout():
    async def scenario():
        async with RawServer(lambda request: None if b"getMe" in request else ok(True)) as server:
            request = LeanRequest(pool_size=1, read_timeout=5, pool_timeout=0.1)
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


def test_a_file_upload_goes_through_with_its_contents():
    async def scenario():
        with BotApiServer() as server:
            async with Bot(server.token, base_url=server.base_url, request=LeanRequest()) as bot:
                await bot.send_document(42, document=b"%PDF-1.4 report", filename="report.pdf", caption="Отчёт")
            return server.calls("sendDocument")[0].params

    params = asyncio.run(scenario())
    assert params["document"] == {"filename": "report.pdf", "size": len(b"%PDF-1.4 report")}
    assert params["caption"] == "Отчёт"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1: (server context, client context trusting it)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days",
         "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
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
                Bot(TOKEN, base_url=server.base_url, request=LeanRequest()):
            pass

    with pytest.raises(NetworkError, match="SSLCertVerificationError") as raised:
        asyncio.run(scenario())
    assert TOKEN not in str(raised.value)
