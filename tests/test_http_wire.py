"""The HTTP plumbing under the Streamable HTTP transport: ``_httpwire``, ``_sse`` and ``_mcpheaders``.

The HTTP client is driven against the scripted server (``tests/servers/http_scripted.py``),
whose hook writes raw bytes where a framing edge case is needed; the SSE decoder and the
header rules are pure and tested without sockets.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from syncmcp import HTTPError, MessageTooLarge
from syncmcp._httpwire import Abortable, ConnectionPool, Headers, HttpRequest, ProxySettings, redact_url
from syncmcp._mcpheaders import (
    InvalidHeaderAnnotation,
    encode_header_value,
    mirrored_headers,
    param_header_specs,
    param_headers,
)
from syncmcp._sse import SSEDecoder, SSEEvent

from .servers.http_scripted import Exchange, ScriptedHTTPServer


@pytest.fixture
def server() -> Iterator[ScriptedHTTPServer]:
    with ScriptedHTTPServer() as scripted:
        yield scripted
    assert not scripted.errors, scripted.errors


@pytest.fixture
def pool() -> Iterator[ConnectionPool]:
    connections = ConnectionPool(connect_timeout=5, proxies=ProxySettings())
    yield connections
    connections.close()


def raw(server: ScriptedHTTPServer, response: bytes) -> None:
    """Answer every request with exactly ``response`` (the connection stays open)."""
    server.hook = lambda ex: ex.write(response)


def get(pool: ConnectionPool, server: ScriptedHTTPServer, path: str = "/x", **kwargs: object) -> bytes:
    with pool.send(HttpRequest("GET", server.origin + path, **kwargs), read_timeout=5) as response:  # type: ignore[arg-type]
        return response.read(1 << 20)


def ports(server: ScriptedHTTPServer) -> List[int]:
    return [r.client_port for r in server.requests]


# ----------------------------------------------------------------------------- bodies


def test_a_chunked_body_with_chunk_extensions_and_trailers_is_decoded_and_the_connection_reused(server, pool) -> None:
    raw(server, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;name=value\r\nhello\r\n6 ; another\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n")
    assert get(pool, server) == b"hello world"
    assert get(pool, server) == b"hello world"  # the trailers were consumed: the next response parses
    assert len(set(ports(server))) == 1


def test_a_chunked_body_read_in_small_pieces_is_the_same(server, pool) -> None:
    raw(server, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n")
    with pool.send(HttpRequest("GET", server.origin + "/x"), read_timeout=5) as response:
        pieces = []
        while True:
            piece = response.read_some(4)
            if not piece:
                break
            pieces.append(piece)
        assert response.done
    assert b"".join(pieces) == b"0123456789abc"
    assert max(len(p) for p in pieces) <= 4


@pytest.mark.parametrize("size", [b"-5", b"+5", b"0x5", b"5_0", b"", b"5 5"])
def test_a_chunk_size_that_is_not_plain_hex_is_an_error(server, pool, size: bytes) -> None:
    def answer(ex: Exchange) -> None:
        ex.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n")
        ex.hang(5)  # a kept-alive connection: an error must come from parsing, not from the server closing

    server.hook = answer
    with pytest.raises(HTTPError, match="invalid chunk size line"):
        get(pool, server)


def test_a_chunk_not_followed_by_crlf_is_an_error(server, pool) -> None:
    raw(server, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n")
    with pytest.raises(HTTPError, match="not followed by CRLF"):
        get(pool, server)


def test_a_content_length_body_is_read_exactly_and_the_connection_reused(server, pool) -> None:
    raw(server, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    assert get(pool, server) == b"hello"
    assert get(pool, server) == b"hello"
    assert len(set(ports(server))) == 1


def test_a_close_delimited_body_is_read_to_the_end_and_the_connection_not_reused(server, pool) -> None:
    def answer(ex: Exchange) -> None:
        ex.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 70000)
        ex.drop()

    server.hook = answer
    assert get(pool, server) == b"x" * 70000
    assert get(pool, server) == b"x" * 70000
    assert len(set(ports(server))) == 2


def test_http_1_0_and_connection_close_responses_are_not_reused(server, pool) -> None:
    answers = iter([
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ])

    def answer(ex: Exchange) -> None:
        ex.write(next(answers))
        if ex.request.number < 3:
            ex.drop()

    server.hook = answer
    assert [get(pool, server) for _ in range(3)] == [b"ok"] * 3
    assert len(set(ports(server))) == 3


def test_a_body_shorter_than_its_content_length_is_an_error(server, pool) -> None:
    def answer(ex: Exchange) -> None:
        ex.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        ex.drop()

    server.hook = answer
    with pytest.raises(HTTPError, match="broke while reading the response .*7 bytes early"):
        get(pool, server)


def test_interim_1xx_responses_are_skipped(server, pool) -> None:
    raw(server, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert get(pool, server) == b"ok"


def test_something_that_is_not_http_is_a_clear_error(server, pool) -> None:
    def answer(ex: Exchange) -> None:
        ex.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        ex.drop()

    server.hook = answer
    with pytest.raises(HTTPError, match="did not answer with HTTP"):
        get(pool, server)


def test_read_with_a_limit_raises_message_too_large_and_drops_the_connection(server, pool) -> None:
    body = b"y" * 600_000
    raw(server, b"HTTP/1.1 200 OK\r\nContent-Length: 600000\r\n\r\n" + body)
    response = pool.send(HttpRequest("GET", server.origin + "/big"), read_timeout=5)
    with pytest.raises(MessageTooLarge, match="larger than the 100-byte limit"):
        response.read(100)
    response.close()
    assert get(pool, server) == body
    assert len(set(ports(server))) == 2  # the half-read connection was closed, not pooled


def test_a_body_read_to_its_end_past_the_limit_still_frees_its_connection(server, pool) -> None:
    raw(server, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 1000)
    with pool.send(HttpRequest("GET", server.origin + "/big"), read_timeout=5) as response:
        with pytest.raises(MessageTooLarge):
            response.read(100)
    assert get(pool, server) == b"y" * 1000
    assert len(set(ports(server))) == 1


def test_a_body_that_is_not_json_is_an_http_error_quoting_it(server, pool) -> None:
    raw(server, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 22\r\n\r\n<html>upstream!</html>")
    with pool.send(HttpRequest("GET", server.origin + "/x"), read_timeout=5) as response:
        with pytest.raises(HTTPError, match="HTTP 502: the body is not JSON: <html>upstream!</html>") as info:
            response.json()
    assert info.value.status == 502


def test_a_silent_server_hits_the_read_timeout(server, pool) -> None:
    server.hook = lambda ex: ex.hang(10)
    started = time.monotonic()
    with pytest.raises(HTTPError, match="no answer from the server within 0.3 s"):
        pool.send(HttpRequest("GET", server.origin + "/x"), read_timeout=0.3)
    assert time.monotonic() - started < 2


def test_a_refused_connection_names_the_host_and_port(pool) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(HTTPError, match=f"cannot connect to 127.0.0.1:{port}") as info:
        pool.send(HttpRequest("GET", f"http://127.0.0.1:{port}/mcp?token=s3cret"))
    assert "s3cret" not in str(info.value)
    assert info.value.status is None


def test_only_http_urls_are_accepted(pool) -> None:
    with pytest.raises(HTTPError, match="not an http"):
        pool.send(HttpRequest("GET", "ftp://example.com/x"))


def test_a_header_with_a_line_break_is_refused_without_quoting_its_value(server, pool) -> None:
    with pytest.raises(HTTPError, match="header 'X-Evil' contains a line break") as info:
        pool.send(HttpRequest("GET", server.origin + "/x", Headers({"X-Evil": "s3cret\r\nInjected: 1"})))
    assert "s3cret" not in str(info.value)
    assert server.requests == []


def test_requests_carry_host_user_agent_and_content_length(server, pool) -> None:
    raw(server, b"HTTP/1.1 204 No Content\r\n\r\n")
    with pool.send(HttpRequest("POST", server.origin + "/p?a=1", Headers({"X-One": "1"}), b'{"x": 1}'), read_timeout=5) as r:
        assert r.status == 204
        assert r.done
    (request,) = server.requests
    assert request.path == "/p?a=1"
    assert request.headers["Host"] == f"127.0.0.1:{server.port}"
    assert request.headers["User-Agent"].startswith("syncmcp/")
    assert request.headers["Content-Length"] == "8"
    assert request.headers["X-One"] == "1"
    assert request.body == b'{"x": 1}'


# ----------------------------------------------------------------------------- keep-alive


def test_sequential_requests_share_one_kept_alive_connection(server, pool) -> None:
    server.hook = lambda ex: ex.respond(200, b"ok")
    for _ in range(5):
        assert get(pool, server) == b"ok"
    assert len(server.requests) == 5
    assert len(set(ports(server))) == 1


def test_sequential_https_requests_share_one_kept_alive_connection() -> None:
    certs = Path(__file__).resolve().parent / "certs"
    with ScriptedHTTPServer(tls=(str(certs / "server.pem"), str(certs / "server.key"))) as server:
        server.hook = lambda ex: ex.respond(200, b"ok")
        pool = ConnectionPool(proxies=ProxySettings(), ssl_context=ssl.create_default_context(cafile=str(certs / "ca.pem")))
        try:
            assert [get(pool, server) for _ in range(4)] == [b"ok"] * 4
        finally:
            pool.close()
        assert len(set(ports(server))) == 1
    assert not server.errors


def test_an_idle_connection_the_server_closed_is_noticed_and_replaced(server, pool) -> None:
    def answer(ex: Exchange) -> None:
        ex.respond(200, b"ok")
        if ex.request.number == 1:
            ex.drop()  # no "Connection: close": the client only learns it from the socket

    server.hook = answer
    assert get(pool, server) == b"ok"
    assert server.wait_for(lambda: not server._connections)
    assert get(pool, server) == b"ok"
    assert [r.number for r in server.requests] == [1, 2]  # the second request was sent once, on a new connection
    assert len(set(ports(server))) == 2


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_replayable_request_is_retried_when_a_reused_connection_dies_before_answering(server, pool, how) -> None:
    """The race of a keep-alive timeout: the connection looked alive, the server dropped it unanswered."""

    def answer(ex: Exchange) -> None:
        if ex.request.number == 2:
            ex.reset() if how == "reset" else ex.drop()
        else:
            ex.respond(200, b"ok")

    server.hook = answer
    assert get(pool, server) == b"ok"
    assert get(pool, server, replayable=True) == b"ok"
    assert len(server.requests) == 3
    assert server.requests[1].client_port == server.requests[0].client_port
    assert server.requests[2].client_port != server.requests[0].client_port


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_request_that_is_not_replayable_is_never_sent_twice(server, pool, how) -> None:
    def answer(ex: Exchange) -> None:
        if ex.request.number == 2:
            ex.reset() if how == "reset" else ex.drop()
        else:
            ex.respond(200, b"ok")

    server.hook = answer
    assert get(pool, server) == b"ok"
    with pytest.raises(HTTPError, match="closed the connection without answering|the request failed"):
        pool.send(HttpRequest("POST", server.origin + "/call", body=b"{}"), read_timeout=5)
    assert len(server.requests) == 2
    assert get(pool, server) == b"ok"  # and the pool recovers


def test_a_fresh_connection_that_dies_is_not_retried_even_if_replayable(server, pool) -> None:
    server.hook = lambda ex: ex.drop()
    with pytest.raises(HTTPError, match="closed the connection without answering"):
        get(pool, server, replayable=True)
    assert len(server.requests) == 1


def test_idle_connections_beyond_max_idle_are_closed(server) -> None:
    server.hook = lambda ex: ex.respond(200, b"ok")
    pool = ConnectionPool(proxies=ProxySettings(), max_idle=2)
    try:
        responses = [pool.send(HttpRequest("GET", server.origin + "/x"), read_timeout=5) for _ in range(4)]
        for response in responses:
            assert response.read(10) == b"ok"
            response.close()
        assert server.wait_for(lambda: len(server._connections) == 2)
    finally:
        pool.close()
    assert server.wait_for(lambda: not server._connections)


def test_a_closed_pool_refuses_requests(server, pool) -> None:
    pool.close()
    with pytest.raises(HTTPError, match="pool is closed"):
        get(pool, server)


def test_closing_a_response_from_another_thread_wakes_a_blocked_reader(server, pool) -> None:
    def answer(ex: Exchange) -> None:
        stream = ex.stream()
        stream.comment()
        ex.hang(10)

    server.hook = answer
    response = pool.send(HttpRequest("GET", server.origin + "/stream"), read_timeout=None)
    assert response.read_some() == b": keep-alive\n\n"
    errors: List[BaseException] = []

    def read() -> None:
        try:
            response.read_some()
        except HTTPError as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.05)  # let it block in recv (there is no event for "blocked in a system call")
    response.close()
    reader.join(5)
    assert not reader.is_alive()
    assert server.wait_for(lambda: server.hung_up == 1)


def test_an_abort_stops_a_tls_handshake_the_server_never_answers() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: List[socket.socket] = []
    arrived = threading.Event()

    def accept() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)  # held open, silent: the client waits in its TLS handshake
        arrived.set()

    threading.Thread(target=accept, daemon=True).start()
    pool = ConnectionPool(connect_timeout=30, proxies=ProxySettings())
    abortable = Abortable()
    errors: List[HTTPError] = []

    def send() -> None:
        try:
            pool.send(HttpRequest("GET", f"https://127.0.0.1:{listener.getsockname()[1]}/"), on_pending=abortable.pending)
        except HTTPError as exc:
            errors.append(exc)

    sender = threading.Thread(target=send)
    try:
        sender.start()
        assert arrived.wait(5)
        time.sleep(0.1)  # let it block in the handshake (there is no event for "blocked in a system call")
        started = time.monotonic()
        abortable.abort()
        sender.join(5)
        assert not sender.is_alive() and time.monotonic() - started < 5
        assert len(errors) == 1 and "connecting was cancelled" in str(errors[0])
    finally:
        pool.close()
        listener.close()
        for conn in accepted:
            conn.close()


def test_an_abort_that_comes_after_the_answer_leaves_the_kept_alive_connection_alone(server, pool) -> None:
    server.hook = lambda ex: ex.respond(200, b"ok")
    handed: List[Callable[[], None]] = []
    with pool.send(HttpRequest("GET", server.origin + "/x"), on_pending=lambda abort: abort and handed.append(abort)) as response:
        assert response.read(100) == b"ok"
    assert handed
    for abort in handed:  # a late abort: the attempt is over, the connection went back to the pool
        abort()
    assert get(pool, server) == b"ok"
    assert len(server.requests) == 2 and len(set(ports(server))) == 1


# ----------------------------------------------------------------------------- headers and URLs


def test_headers_are_case_insensitive_ordered_and_repr_shows_no_values() -> None:
    headers = Headers([("Set-Thing", "a"), ("set-thing", "b"), ("Authorization", "Bearer s3cret")])
    assert headers.get_all("SET-THING") == ["a", "b"]
    headers["set-thing"] = "c"
    assert headers.items() == [("Authorization", "Bearer s3cret"), ("set-thing", "c")]
    assert headers.setdefault("AUTHORIZATION", "other") == "Bearer s3cret"
    assert "s3cret" not in repr(headers)
    copy = headers.copy()
    copy.pop("authorization")
    assert "authorization" in headers and "authorization" not in copy


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pw@api.test/mcp?token=abc&x=1", "https://api.test/mcp?token=***&x=***"),
        ("http://api.test:8080/mcp?flag", "http://api.test:8080/mcp?flag=***"),
        ("https://api.test/mcp#secret-fragment", "https://api.test/mcp"),
        ("http://[::1]:3000/sse?session_id=abc", "http://[::1]:3000/sse?session_id=***"),
        ("https://api.test/plain", "https://api.test/plain"),
        ("http://[not-closed/", "<invalid URL>"),
    ],
)
def test_redact_url_hides_credentials_query_values_and_fragments(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_a_request_repr_shows_the_redacted_url() -> None:
    assert repr(HttpRequest("GET", "https://u:p@api.test/x?key=s3cret")) == "<HttpRequest GET https://api.test/x?key=***>"


# ----------------------------------------------------------------------------- NO_PROXY


PROXIES = {"http": "http://proxy:3128", "https": "http://proxy:3128"}


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("example.com", "https://example.com/mcp", True),
        ("example.com", "https://api.example.com/mcp", True),
        ("example.com", "https://badexample.com/mcp", False),
        (".example.com", "https://api.example.com/mcp", True),
        ("EXAMPLE.com", "https://Api.Example.COM/mcp", True),
        ("other.test, example.com", "http://example.com/", True),
        ("other.test example.com", "http://example.com/", True),
        ("example.com:8443", "https://example.com:8443/mcp", True),
        ("example.com:8443", "https://example.com/mcp", False),
        ("example.com:443", "https://example.com/mcp", True),
        ("example.com:80", "http://example.com:8080/mcp", False),
        ("*", "https://anything.test/mcp", True),
        ("127.0.0.1", "http://127.0.0.1:8000/mcp", True),
        ("127.0.0.1", "http://127.0.0.2:8000/mcp", False),
        ("[::1]", "http://[::1]:8000/mcp", True),
        ("", "https://example.com/mcp", False),
    ],
)
def test_no_proxy_matches_suffixes_ports_and_the_wildcard(no_proxy: str, url: str, bypassed: bool) -> None:
    proxy = ProxySettings(PROXIES, no_proxy=no_proxy).proxy_for(url)
    assert proxy == (None if bypassed else "http://proxy:3128")


def test_proxy_settings_come_from_the_environment_in_either_case(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")
    monkeypatch.setenv("no_proxy", "internal.corp")
    settings = ProxySettings.from_environment()
    assert settings.proxy_for("https://api.test/mcp") == "http://proxy.corp:3128"
    assert settings.proxy_for("http://api.test/mcp") is None
    assert settings.proxy_for("https://mcp.internal.corp/mcp") is None


# ----------------------------------------------------------------------------- SSE decoding


def feed_all(decoder: SSEDecoder, *chunks: bytes) -> List[SSEEvent]:
    events: List[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


def test_sse_crlf_split_across_chunks_is_one_line_end() -> None:
    events = feed_all(SSEDecoder(), b"data: a\r", b"\ndata: b\r\n\r", b"\n")
    assert events == [SSEEvent("message", "a\nb", None)]


def test_sse_cr_only_line_ends_are_line_ends() -> None:
    assert feed_all(SSEDecoder(), b"event: update\rdata: x\rdata: y\r\r") == [SSEEvent("update", "x\ny", None)]


def test_sse_a_cr_at_the_end_of_a_chunk_followed_by_a_new_line_is_not_merged() -> None:
    events = feed_all(SSEDecoder(), b"data: a\r", b"\r", b"data: b\r\r")
    assert [e.data for e in events] == ["a", "b"]


def test_sse_fed_one_byte_at_a_time_gives_the_same_events() -> None:
    stream = b"\xef\xbb\xbf: hi\r\nid: 1\r\nevent: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nretry: 250\rdata: \xc3\xa9\r\r"
    whole = SSEDecoder().feed(stream)
    decoder = SSEDecoder()
    bytewise = feed_all(decoder, *(stream[i : i + 1] for i in range(len(stream))))
    assert bytewise == whole == [SSEEvent("message", '{"a":\n1}', "1"), SSEEvent("message", "é", None)]
    assert decoder.retry_ms == 250
    assert decoder.last_event_id == "1"


def test_sse_a_leading_bom_is_dropped_even_split_but_only_at_the_start() -> None:
    assert feed_all(SSEDecoder(), b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [SSEEvent("message", "x", None)]
    # Later, a BOM is an ordinary character: here it makes an unknown field name.
    assert feed_all(SSEDecoder(), b"data: x\n\n", b"\xef\xbb\xbfdata: y\n\n") == [SSEEvent("message", "x", None)]
    assert feed_all(SSEDecoder(), b"data: x\n\n", b"data: \xef\xbb\xbfy\n\n")[1].data == "\ufeffy"


def test_sse_comments_are_skipped() -> None:
    assert feed_all(SSEDecoder(), b": keep-alive\n\n:\ndata: x\n: inside\n\n") == [SSEEvent("message", "x", None)]


def test_sse_field_syntax_follows_the_spec() -> None:
    events = feed_all(SSEDecoder(), b"data:no-space\ndata:  two spaces\nunknown: field\ndata\n\n")
    assert events == [SSEEvent("message", "no-space\n two spaces\n", None)]


def test_sse_an_id_containing_nul_is_ignored() -> None:
    decoder = SSEDecoder()
    events = feed_all(decoder, b"id: 1\ndata: a\n\n", b"id: 2\x00x\ndata: b\n\n")
    assert events == [SSEEvent("message", "a", "1"), SSEEvent("message", "b", None)]
    assert decoder.last_event_id == "1"


def test_sse_an_empty_id_resets_the_last_event_id() -> None:
    decoder = SSEDecoder()
    feed_all(decoder, b"id: 5\ndata: a\n\n", b"id:\ndata: b\n\n")
    assert decoder.last_event_id == ""


@pytest.mark.parametrize(
    ("line", "expected"),
    [(b"retry: 300", 300), (b"retry:0", 0), (b"retry: 3.5", None), (b"retry: -1", None), (b"retry: abc", None),
     (b"retry:", None), (b"retry: \xd9\xa3", None), (b"retry: 1 000", None)],
)
def test_sse_retry_takes_only_ascii_digits(line: bytes, expected) -> None:
    decoder = SSEDecoder()
    decoder.feed(line + b"\n\n")
    assert decoder.retry_ms == expected


def test_sse_an_event_with_empty_data_is_not_dispatched_but_its_id_is_kept() -> None:
    decoder = SSEDecoder()
    assert feed_all(decoder, b"id: prime-1\nretry: 300\ndata:\n\n", b"id: 2\n\n", b"event: x\n\n") == []
    assert (decoder.last_event_id, decoder.retry_ms) == ("2", 300)


def test_sse_an_event_without_a_blank_line_is_not_dispatched_at_eof() -> None:
    assert feed_all(SSEDecoder(), b"data: unfinished\n") == []


def test_sse_one_event_larger_than_the_cap_raises() -> None:
    decoder = SSEDecoder(max_event_size=20)
    assert feed_all(decoder, b"data: 12345\n\n") == [SSEEvent("message", "12345", None)]
    with pytest.raises(MessageTooLarge, match="20-byte"):
        feed_all(decoder, b"data: 12345\n", b"data: 67890\n")


def test_sse_a_line_without_end_larger_than_the_cap_raises() -> None:
    decoder = SSEDecoder(max_event_size=100)
    with pytest.raises(MessageTooLarge):
        for _ in range(10):
            decoder.feed(b"data: " + b"z" * 50)


# ----------------------------------------------------------------------------- mirrored headers


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("us-west1", "us-west1"),
        ("with inner spaces", "with inner spaces"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" leading", "=?base64?IGxlYWRpbmc=?="),
        ("trailing ", "=?base64?dHJhaWxpbmcg?="),
        ("tab\there", "=?base64?dGFiCWhlcmU=?="),
        ("del\x7f", "=?base64?ZGVsfw==?="),
        ("=?base64?SGk=?=", "=?base64?PT9iYXNlNjQ/U0drPT89?="),  # looks like the sentinel: encoded itself
        ("=?base64?no-end", "=?base64?no-end"),
        ("ends?=", "ends?="),
    ],
)
def test_header_values_are_sent_as_is_or_in_the_base64_sentinel_form(value: str, sent: str) -> None:
    assert encode_header_value(value) == sent


def test_mirrored_headers_name_the_method_and_its_target() -> None:
    version = ("MCP-Protocol-Version", "2026-07-28")
    assert mirrored_headers({"method": "tools/call", "params": {"name": "echo"}}, "2026-07-28") == [
        version, ("Mcp-Method", "tools/call"), ("Mcp-Name", "echo")]
    assert mirrored_headers({"method": "resources/read", "params": {"uri": "file:///a b"}}, "2026-07-28")[2] == (
        "Mcp-Name", "file:///a b")
    assert mirrored_headers({"method": "prompts/get", "params": {"name": "résumé"}}, "2026-07-28")[2] == (
        "Mcp-Name", "=?base64?csOpc3Vtw6k=?=")
    assert mirrored_headers({"method": "tools/list", "params": {"name": "ignored"}}, "2026-07-28") == [
        version, ("Mcp-Method", "tools/list")]
    assert mirrored_headers({"method": "tools/call", "params": {"name": 5}}, "2026-07-28") == [
        version, ("Mcp-Method", "tools/call")]


def schema(**properties: object) -> dict:
    return {"type": "object", "properties": properties}


def test_x_mcp_header_on_nested_properties_is_allowed() -> None:
    specs = param_header_specs(schema(
        region={"type": "string", "x-mcp-header": "Region"},
        options=schema(verbose={"type": "boolean", "x-mcp-header": "Verbose"}, level={"type": "integer", "x-mcp-header": "Level"}),
        plain={"type": "string"},
    ))
    assert specs == [("Mcp-Param-Region", ("region",)), ("Mcp-Param-Verbose", ("options", "verbose")),
                     ("Mcp-Param-Level", ("options", "level"))]


@pytest.mark.parametrize("name", ["Bad Name", "a:b", "", "Ünïcode", "x/y", 5, None, "tab\t"])
def test_x_mcp_header_names_must_be_http_tokens(name: object) -> None:
    with pytest.raises(InvalidHeaderAnnotation, match="not a valid header name"):
        param_header_specs(schema(p={"type": "string", "x-mcp-header": name}))


def test_x_mcp_header_names_must_be_unique_case_insensitively() -> None:
    with pytest.raises(InvalidHeaderAnnotation, match="used twice"):
        param_header_specs(schema(a={"type": "string", "x-mcp-header": "Region"},
                                  b=schema(c={"type": "string", "x-mcp-header": "REGION"})))


@pytest.mark.parametrize("kind", ["number", "object", "array", "null", None, ["string", "integer"]])
def test_x_mcp_header_is_only_for_string_integer_and_boolean(kind: object) -> None:
    prop = {"x-mcp-header": "P"} if kind is None else {"type": kind, "x-mcp-header": "P"}
    with pytest.raises(InvalidHeaderAnnotation, match="only string, integer and boolean"):
        param_header_specs(schema(p=prop))


@pytest.mark.parametrize(
    "where",
    [
        schema(list={"type": "array", "items": {"type": "string", "x-mcp-header": "Item"}}),
        schema(choice={"anyOf": [{"type": "string", "x-mcp-header": "Choice"}, {"type": "integer"}]}),
        {**schema(ref={"$ref": "#/$defs/R"}), "$defs": {"R": {"type": "string", "x-mcp-header": "Ref"}}},
        schema(one={"oneOf": [schema(inner={"type": "string", "x-mcp-header": "Inner"})]}),
        {**schema(), "additionalProperties": {"type": "string", "x-mcp-header": "Extra"}},
        {"type": "object", "x-mcp-header": "Root"},
    ],
    ids=["items", "anyOf", "$ref", "oneOf-properties", "additionalProperties", "root"],
)
def test_x_mcp_header_outside_a_chain_of_properties_is_refused(where: dict) -> None:
    with pytest.raises(InvalidHeaderAnnotation):
        param_header_specs(where)


def test_a_schema_without_annotations_has_no_param_headers() -> None:
    assert param_header_specs(schema(a={"type": "number"})) == []
    assert param_header_specs(None) == []


def test_param_header_values_follow_the_encoding_rules() -> None:
    specs = [("Mcp-Param-S", ("s",)), ("Mcp-Param-I", ("i",)), ("Mcp-Param-B", ("b",)), ("Mcp-Param-F", ("f",)),
             ("Mcp-Param-N", ("n",)), ("Mcp-Param-A", ("absent",)), ("Mcp-Param-D", ("o", "deep"))]
    arguments = {"s": "Grüße", "i": -42, "b": False, "f": 3.0, "n": None, "o": {"deep": "x"}}
    assert param_headers(specs, arguments) == [
        ("Mcp-Param-S", "=?base64?R3LDvMOfZQ==?="), ("Mcp-Param-I", "-42"), ("Mcp-Param-B", "false"),
        ("Mcp-Param-F", "3"), ("Mcp-Param-D", "x")]
    assert param_headers([("Mcp-Param-B", ("b",))], {"b": True}) == [("Mcp-Param-B", "true")]
    assert param_headers(specs, None) == []
    assert param_headers([("Mcp-Param-D", ("o", "deep"))], {"o": "not an object"}) == []


@pytest.mark.parametrize("value", [2**53, 1.5, {"a": 1}, [1]])
def test_param_values_a_header_cannot_carry_are_refused(value: object) -> None:
    with pytest.raises(InvalidHeaderAnnotation):
        param_headers([("Mcp-Param-V", ("v",))], {"v": value})
