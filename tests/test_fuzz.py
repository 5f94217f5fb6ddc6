"""Property-based fuzzing (hypothesis) of the wire: decoder, stdio framing, endpoint, servers.

Hostile peers feed arbitrary bytes, partial lines, invalid UTF-8, byte-order marks, JSON values
that are not messages, batches, deep nesting, huge numbers and ids of every type, interleaved
with correct traffic. The invariants: nothing but ``InvalidMessage`` comes out of the decoder;
no exception escapes a reader thread (``threading.excepthook`` and ERROR log records are
watched); only EOF ends a connection; every pending call ends within its deadline; no response
reaches the wrong caller; a server answers every request it can read, with the right JSON-RPC
shape and HTTP status, and keeps serving a normal request afterwards.

Every test runs a bounded number of examples (``derandomize`` under ``CI=true``, so CI is
reproducible); bugs the fuzzing found are pinned as explicit examples and plain tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from syncmcp import ConnectionClosed, RemoteError, RequestTimeout
from syncmcp._endpoint import Endpoint
from syncmcp._exceptions import MessageTooLarge
from syncmcp._jsonrpc import (
    ErrorCode,
    ErrorResponse,
    InvalidMessage,
    Notification,
    Request,
    Response,
    classify,
    decode_line,
    encode_message,
    make_error,
    make_request,
    make_result,
)
from syncmcp._transport import StreamTransport
from syncmcp.server import Context, Server
from syncmcp.server._io import ServerStreamTransport, WakeableReader
from syncmcp.testing import memory_pair

from .conftest import IN_CI

# ----------------------------------------------------------------------------- settings

settings.register_profile(
    "syncmcp-fuzz",
    max_examples=40,
    deadline=None,
    derandomize=IN_CI,  # CI runs the same examples every time
    database=None,  # no .hypothesis/ folder in the work tree
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("syncmcp-fuzz")


#: Multiplies every test's example budget, for a deeper run by hand: ``SYNCMCP_FUZZ_SCALE=20``.
SCALE = float(os.environ.get("SYNCMCP_FUZZ_SCALE", "1"))


def fuzz(max_examples: int) -> Any:
    """The file's profile with its own example budget (the whole file stays well under a minute)."""
    return settings(FUZZ, max_examples=max(1, int(max_examples * SCALE)))


# ----------------------------------------------------------------------------- strategies

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
digit_strings = st.from_regex(r"\A[0-9]{1,25}\Z")
#: Ids of every type a peer may send: valid ones (int, str) and invalid ones.
any_ids = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**20, max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    digit_strings,
    st.just("9" * 5000),  # a digit string no int() takes on Python 3.11+
    st.just("٣"),  # a digit that is not ASCII
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
methods = st.sampled_from(
    [
        "ping",
        "initialize",
        "notifications/initialized",
        "notifications/cancelled",
        "notifications/progress",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "resources/subscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
        "server/discover",
        "sampling/createMessage",
        "no/such/method",
        "",
    ]
)
params_values = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries({}, optional={"name": st.sampled_from(["add", "nope", ""]) | json_values, "arguments": json_values}),
    st.fixed_dictionaries({"requestId": any_ids}, optional={"reason": json_values}),
    st.fixed_dictionaries({}, optional={"uri": st.sampled_from(["note://one", "x"]) | json_values, "cursor": json_values}),
)


@st.composite
def message_like(draw: Any) -> Dict[str, Any]:
    """A JSON object that looks more or less like a JSON-RPC message."""
    message: Dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        message["jsonrpc"] = draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0", 2.0, None]))
    shape = draw(st.sampled_from(["request", "notification", "result", "error", "odd"]))
    if shape in ("request", "result", "error") or draw(st.booleans()):
        message["id"] = draw(any_ids)
    if shape in ("request", "notification"):
        message["method"] = draw(methods | json_values)
        params = draw(params_values)
        if params is not None or draw(st.booleans()):
            message["params"] = params
    elif shape == "result":
        message["result"] = draw(json_values)
    elif shape == "error":
        message["error"] = draw(
            st.fixed_dictionaries(
                {"code": st.integers() | json_values, "message": st.text(max_size=10) | json_values},
                optional={"data": json_values},
            )
            | json_values
        )
    else:
        message.update(draw(st.dictionaries(st.sampled_from(["method", "result", "error", "params", "x"]), json_values)))
    return message


def deep(depth: int, open_: str = "[", close: str = "]") -> bytes:
    return (open_ * depth + close * depth).encode()


#: Whole lines (newline added by the caller) that are not usable messages.
junk_lines = st.one_of(
    st.binary(max_size=40),
    st.binary(max_size=20).map(lambda b: b"\xff\xfe" + b),  # invalid UTF-8 / a UTF-16 mark
    st.sampled_from(
        [
            b"",
            b"   ",
            b"\r",
            b"null",
            b"true",
            b"0",
            b"-1.5e308",
            b"1e999999",
            b"-Infinity",
            b"NaN",
            b'"a string"',
            b"[]",
            b"[[]]",
            b"[[[]],[]]",
            b"{}",
            b"{",
            b'{"jsonrpc":"2.0"',
            b'{"jsonrpc":"2.0","id":1,"result":{}',  # cut short
            b"\xef\xbb\xbf",  # a byte-order mark alone
            b'\xef\xbb\xbf{"jsonrpc":"2.0","method":"notifications/x"}',
            b'{"jsonrpc":"2.0","method":"notifications/\xff\xfe"}',
            b"9" * 5000,  # an int too long for Python 3.11+'s int()
            b"1" * 50,
            b'{"jsonrpc":"2.0","id":1e400,"result":1}',
            deep(100_000),
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            deep(900),
        ]
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
    message_like().map(lambda m: json.dumps(m).encode()),
    st.lists(message_like() | json_values, max_size=4).map(lambda b: json.dumps(b).encode()),
)


def one_line(data: bytes) -> bytes:
    """``data`` as exactly one newline-terminated line."""
    return data.replace(b"\n", b" ") + b"\n"


# ----------------------------------------------------------------------------- watching threads and logs


class Watch(logging.Handler):
    """Collects ERROR records from syncmcp loggers and exceptions escaping any thread."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: List[logging.LogRecord] = []
        self.escaped: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def problems(self) -> List[str]:
        found = [f"{r.name}: {r.getMessage()}" + (f" [{r.exc_info[0].__name__}: {r.exc_info[1]}]" if r.exc_info and r.exc_info[0] else "") for r in self.records]
        return found + self.escaped


@contextlib.contextmanager
def watched() -> Iterator[Watch]:
    """Fail when an exception escapes a thread or a syncmcp logger reports an ERROR."""
    watch = Watch()
    log = logging.getLogger("syncmcp")
    log.addHandler(watch)
    previous = threading.excepthook

    def hook(args: Any) -> None:
        watch.escaped.append(f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: {args.exc_value}")

    threading.excepthook = hook
    try:
        yield watch
    finally:
        threading.excepthook = previous
        log.removeHandler(watch)
    assert not watch.problems(), watch.problems()


# ============================================================================= 1. the decoder


@fuzz(300)
@given(st.binary(max_size=200) | junk_lines)
@example(b"\xef\xbb\xbf{}")
@example(b"\xef\xbb\xbf\xff{}")
@example(deep(100_000))
@example(b"9" * 5000)
@example(b"null")  # found by fuzzing: came out as None, which every transport means as EOF
@example(b" null \r\n")
def test_decode_line_returns_a_value_that_is_not_none_or_raises_invalid_message(line: bytes) -> None:
    try:
        value = decode_line(line)
    except InvalidMessage as exc:
        assert exc.code == (ErrorCode.INVALID_REQUEST if line.strip() == b"null" else ErrorCode.PARSE_ERROR)
        assert exc.request_id is None
    else:
        assert value is not None


@fuzz(400)
@given(json_values | message_like() | st.lists(message_like(), max_size=3))
@example({"jsonrpc": "2.0", "id": True, "result": 1})
@example({"jsonrpc": "2.0", "id": 1.0, "method": "x"})
@example({"jsonrpc": "2.0", "id": None, "method": "x"})
@example({"jsonrpc": "2.0", "id": None, "error": {"code": 1, "message": "m"}})
@example({"jsonrpc": "2.0", "id": [1], "error": {"code": 1, "message": "m"}})
@example({"jsonrpc": "2.0", "id": 1, "error": {"code": True, "message": "m"}})
def test_classify_returns_a_well_formed_message_or_raises_invalid_message(value: Any) -> None:
    try:
        message = classify(value)
    except InvalidMessage as exc:
        rid = exc.request_id
        assert rid is None or (type(rid) in (int, str)), rid
        if rid is not None:  # an error response can be built and sent for it
            encode_message(make_error(rid, exc.code, str(exc)))
        return
    assert isinstance(value, dict)
    if isinstance(message, (Request, Response)):
        assert type(message.id) in (int, str)
    if isinstance(message, (Request, Notification)):
        assert isinstance(message.method, str)
        assert message.params is None or isinstance(message.params, dict)
    if isinstance(message, ErrorResponse):
        assert message.id is None or type(message.id) in (int, str)
        assert type(message.code) is int
        assert isinstance(message.message, str)


@fuzz(200)
@given(
    st.integers() | st.text(),
    st.text(),
    st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    json_values,
)
def test_messages_survive_encoding_and_decoding(request_id: Any, method: str, params: Any, result: Any) -> None:
    for message, expected in (
        (make_request(request_id, method, params), Request(request_id, method, params)),
        (make_result(request_id, result), Response(request_id, result)),
        (make_error(request_id, -32000, method, result), ErrorResponse(request_id, -32000, method, result)),
    ):
        line = encode_message(message)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert classify(decode_line(line)) == expected


# ============================================================================= 1. the stdio framing


def expected_outcomes(stream: bytes, limit: int) -> List[Any]:
    """What ``StreamTransport.receive`` returns for ``stream``, line by line (a model)."""
    out: List[Any] = []
    rest = stream
    while rest:
        end = rest.find(b"\n")
        line = rest if end < 0 else rest[: end + 1]
        if (len(line) > limit and not line.endswith(b"\n")) or len(line) > limit + 1:
            out.append(MessageTooLarge)
            return out
        rest = rest[len(line) :]
        if line.isspace():
            continue
        try:
            out.append(("value", decode_line(line)))
        except InvalidMessage:
            out.append(InvalidMessage)
    out.append(None)
    return out


def drain_transport(transport: StreamTransport) -> List[Any]:
    out: List[Any] = []
    while True:
        try:
            value = transport.receive()
        except InvalidMessage:
            out.append(InvalidMessage)
            continue
        except MessageTooLarge:
            out.append(MessageTooLarge)
            return out
        out.append(None if value is None else ("value", value))
        if value is None:
            return out


stream_pieces = st.lists(junk_lines.map(one_line) | st.binary(max_size=30) | message_like().map(encode_message), max_size=12)


@fuzz(150)
@given(stream_pieces, st.integers(min_value=1, max_value=300))
@example([b"\xef\xbb\xbf" + encode_message({"jsonrpc": "2.0", "method": "x"})], 64)
@example([b"x" * 10 + b"\n"], 10)  # exactly the limit, plus the newline
@example([b"x" * 11], 10)  # one byte over, at EOF without a newline
def test_stream_transport_frames_lines_like_the_model(pieces: List[bytes], limit: int) -> None:
    stream = b"".join(pieces)
    transport = StreamTransport(io.BufferedReader(io.BytesIO(stream)), io.BytesIO(), name="fuzz", max_message_size=limit)  # type: ignore[arg-type]
    assert drain_transport(transport) == expected_outcomes(stream, limit)


@fuzz(40)
@given(stream_pieces, st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20), st.booleans())
def test_partial_writes_over_a_pipe_frame_the_same_lines(pieces: List[bytes], cuts: List[int], wakeable: bool) -> None:
    """The same bytes written to a real pipe in arbitrary pieces give the same messages."""
    stream = b"".join(pieces)
    r, w = os.pipe()
    reader: Any = WakeableReader(r) if wakeable else os.fdopen(r, "rb")
    transport = StreamTransport(reader, None, name="fuzz", max_message_size=4096)

    def write() -> None:
        offset = 0
        index = 0
        try:
            while offset < len(stream):
                size = cuts[index % len(cuts)]
                offset += os.write(w, stream[offset : offset + size])
                index += 1
        except BrokenPipeError:
            pass  # the reader stopped at a line over the limit
        finally:
            os.close(w)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert drain_transport(transport) == expected_outcomes(stream, 4096)
    finally:
        transport.close()
        if wakeable:
            reader.release()  # closes the descriptor: a writer stuck on a full pipe gets EPIPE
        writer.join(10)
        assert not writer.is_alive()


# ============================================================================= 1. the endpoint against a hostile peer

#: What the fake peer does with each request (by the token in its params).
PLANS = ["result", "error", "twice", "twin", "bom", "bad-utf8", "batched", "silent", "late"]
ANSWER_TIMEOUT = 10.0
SILENT_TIMEOUT = 0.3


def safe_junk_id(value: Any) -> Any:
    """Move a junk id away from the endpoint's own ids (1 … 1000), which it may legitimately match."""
    if type(value) is int and 0 <= value <= 10**6:
        return value + 10**7
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10 and int(value) <= 10**6:
        return "x" + value
    return value


def sanitize(value: Any) -> Any:
    """Junk that cannot settle one of the endpoint's requests (top level and batch elements)."""
    if isinstance(value, list):
        return [sanitize(item) if not isinstance(item, list) else item for item in value]
    if isinstance(value, dict) and "id" in value:
        return {**value, "id": safe_junk_id(value["id"])}
    return value


def decoded(line: bytes) -> Tuple[bool, Any]:
    """``(True, value)`` when the endpoint would decode ``line`` into ``value``, else ``(False, None)``."""
    try:
        return True, decode_line(line)
    except InvalidMessage:
        return False, None


def sanitize_line(line: bytes) -> bytes:
    """A junk line, re-encoded when it could have settled one of the endpoint's requests."""
    line = one_line(line)
    ok, value = decoded(line)
    if not ok:
        return line
    cleaned = sanitize(value)
    return line if json.dumps(cleaned) == json.dumps(value) else one_line(json.dumps(cleaned).encode())


endpoint_junk = junk_lines.map(sanitize_line)


class Peer:
    """The far end of an os.pipe pair: reads the endpoint's requests, writes what the script says."""

    def __init__(self) -> None:
        self.to_endpoint_r, self.to_endpoint_w = os.pipe()
        self.from_endpoint_r, self.from_endpoint_w = os.pipe()
        self.requests: List[Dict[str, Any]] = []
        self.cancelled: Set[Any] = set()
        self.answers: List[Dict[str, Any]] = []  # responses the endpoint gave the peer's requests
        self.other: List[Any] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="fuzz-peer-reader")
        self._reader.start()

    def transport(self) -> StreamTransport:
        return StreamTransport(os.fdopen(self.to_endpoint_r, "rb"), os.fdopen(self.from_endpoint_w, "wb"), name="peer")

    def _read(self) -> None:
        with os.fdopen(self.from_endpoint_r, "rb") as stream:
            for line in stream:
                message = json.loads(line)
                with self._changed:
                    if isinstance(message, dict) and "method" in message and "id" in message:
                        self.requests.append(message)
                    elif isinstance(message, dict) and message.get("method") == "notifications/cancelled":
                        self.cancelled.add(message["params"]["requestId"])
                    elif isinstance(message, dict) and "method" not in message:
                        self.answers.append(message)
                    else:
                        self.other.append(message)
                    self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def write(self, data: bytes, cuts: List[int]) -> None:
        offset, index = 0, 0
        while offset < len(data):
            size = cuts[index % len(cuts)]
            offset += os.write(self.to_endpoint_w, data[offset : offset + size])
            index += 1

    def hang_up(self) -> None:
        if self.to_endpoint_w >= 0:
            os.close(self.to_endpoint_w)
            self.to_endpoint_w = -1

    def join(self) -> None:
        self._reader.join(10)
        assert not self._reader.is_alive()


def answer_lines(request: Dict[str, Any], plan: str, junk: List[bytes]) -> List[bytes]:
    rid, token = request["id"], request["params"]["token"]
    good = make_result(rid, {"echo": token, "big": 10**40, "deep": [[[[token]]]]})
    if plan == "result":
        return [encode_message(good)]
    if plan == "error":
        return [encode_message(make_error(rid, -32000 - token % 50, f"no {token}", {"token": token}))]
    if plan == "twice":
        return [encode_message(good), encode_message(good)]  # the second is dropped
    if plan == "twin":  # a sloppy peer that turned our int id into a string
        return [encode_message(make_result(str(rid), {"echo": token, "big": 10**40, "deep": [[[[token]]]]}))]
    if plan == "bom":
        return [b"\xef\xbb\xbf" + encode_message(good)]
    if plan == "bad-utf8":  # invalid UTF-8 inside a string is replaced, the rest is intact
        return [encode_message(make_result(rid, {"echo": token, "big": 10**40, "deep": [[[[token]]]], "s": "@@"})).replace(b"@@", b"\xff\xc3")]
    if plan == "batched":  # inside a batch, between junk elements
        items: List[Any] = [value for ok, value in map(decoded, junk[:2]) if ok]
        items.insert(len(items) // 2, good)
        return [one_line(json.dumps([sanitize(item) if item is not good else item for item in items]).encode())]
    return []  # silent, late: the caller times out first


def check_outcome(plan: str, token: int, outcome: Any, elapsed: float) -> None:
    if plan in ("silent", "late"):
        assert isinstance(outcome, RequestTimeout), (plan, outcome)
        assert elapsed < SILENT_TIMEOUT + 2.0
    elif plan == "error":
        assert isinstance(outcome, RemoteError), (plan, outcome)
        assert outcome.data == {"token": token} and outcome.code == -32000 - token % 50
    else:
        assert outcome == {"echo": token, "big": 10**40, "deep": [[[[token]]]], **({"s": "\ufffd\ufffd"} if plan == "bad-utf8" else {})}, (
            plan,
            outcome,
        )
    assert elapsed < ANSWER_TIMEOUT


@fuzz(30)
@given(
    plans=st.lists(st.sampled_from(PLANS), min_size=1, max_size=8),
    junk=st.lists(endpoint_junk, max_size=12),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=8),
)
# Found by fuzzing: a 5000-digit string id made int() raise in the reader (logged as a crash; in a
# batch, the elements after it were skipped and their callers timed out).
@example(plans=["result", "twin"], junk=[b'{"jsonrpc":"2.0","id":"' + b"9" * 5000 + b'","result":1}\n'], order=random.Random(0), cuts=[4096])
@example(plans=["batched"], junk=[b'{"jsonrpc":"2.0","id":"' + b"9" * 5000 + b'","result":1}\n'], order=random.Random(0), cuts=[4096])
@example(plans=["result", "silent"], junk=[b"null\n"], order=random.Random(0), cuts=[4096])  # found: ended the connection
@example(plans=["result"], junk=[b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":true}}\n'], order=random.Random(0), cuts=[7])
def test_endpoint_routes_every_response_to_its_caller_whatever_else_the_peer_sends(
    plans: List[str], junk: List[bytes], order: random.Random, cuts: List[int]
) -> None:
    with watched():
        peer = Peer()
        endpoint = Endpoint(peer.transport(), name="fuzz-peer", default_timeout=ANSWER_TIMEOUT)
        endpoint.start()
        outcomes: Dict[int, Tuple[Any, float]] = {}

        def call(token: int) -> None:
            timeout = SILENT_TIMEOUT if plans[token] in ("silent", "late") else ANSWER_TIMEOUT
            start = time.monotonic()
            try:
                outcome: Any = endpoint.send_request("fuzz/echo", {"token": token}).result(timeout)
            except Exception as exc:
                outcome = exc
            outcomes[token] = (outcome, time.monotonic() - start)

        callers = [threading.Thread(target=call, args=(token,)) for token in range(len(plans))]
        try:
            for caller in callers:
                caller.start()
            assert peer.wait_for(lambda: len([r for r in peer.requests if r["method"] == "fuzz/echo"]) == len(plans))
            ours = [r for r in peer.requests if r["method"] == "fuzz/echo"]
            chunks: List[bytes] = list(junk)
            late: List[bytes] = []
            for request in ours:
                plan = plans[request["params"]["token"]]
                lines = answer_lines(request, plan, junk)
                if plan == "late":
                    late += [encode_message(make_result(request["id"], {"echo": "late"}))]
                chunks += lines
            order.shuffle(chunks)
            peer.write(b"".join(chunks), cuts)
            # A late answer comes after the caller gave up (and told the peer).
            late_ids = [r["id"] for r in ours if plans[r["params"]["token"]] == "late"]
            assert peer.wait_for(lambda: all(i in peer.cancelled for i in late_ids))
            peer.write(b"".join(late), cuts)
            for caller in callers:
                caller.join(ANSWER_TIMEOUT + 5)
                assert not caller.is_alive(), "a call outlived its deadline"
            for token, plan in enumerate(plans):
                check_outcome(plan, token, *outcomes[token])
            # Junk never ends the connection, and it still works.
            assert endpoint.is_open
            pending = endpoint.send_request("fuzz/echo", {"token": -1})
            assert peer.wait_for(lambda: any(r["params"] == {"token": -1} for r in peer.requests if isinstance(r.get("params"), dict)))
            peer.write(encode_message(make_result(pending.id, "still here")), cuts)
            assert pending.result(ANSWER_TIMEOUT) == "still here"
            # Only EOF ends it, failing what is pending at once.
            pending = endpoint.send_request("fuzz/echo", {"token": -2})
            peer.hang_up()
            with pytest.raises(ConnectionClosed):
                pending.result(ANSWER_TIMEOUT)
            assert not endpoint.is_open
            # Every request of the peer (those with a usable id) got exactly its answer.
            for answer in peer.answers:
                assert set(answer) in ({"jsonrpc", "id", "result"}, {"jsonrpc", "id", "error"}), answer
                assert type(answer["id"]) in (int, str)
        finally:
            peer.hang_up()
            endpoint.close()
            peer.join()


# ============================================================================= 2. the server over stdio

MODERN = "2026-07-28"
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
LEGACY_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]


def make_server() -> Server:
    server = Server("fuzz", "1.0", page_size=2)

    @server.tool(structured_output=True)
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def count(n: int, ctx: Context) -> str:
        """Count with progress and logs."""
        for i in range(min(n, 5)):
            ctx.report_progress(i + 1, n)
            ctx.info(f"step {i + 1}")
        return f"counted to {n}"

    @server.resource("note://one", mime_type="text/plain")
    def note() -> str:
        """A note."""
        return "note one"

    @server.resource_template("notes://{name}")
    def named(name: str) -> str:
        """A named note."""
        return f"note {name}"

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Hello {name}"

    return server


def server_requests() -> Any:
    """Requests a hostile client may send a server: real methods, params of any shape."""
    return st.builds(
        lambda rid, method, params, envelope: {
            "jsonrpc": "2.0",
            "id": rid,
            "method": method,
            **({} if params is None else {"params": {**params, "_meta": ENVELOPE} if envelope and isinstance(params, dict) else params}),
        },
        st.integers(-5, 10**6) | st.text(max_size=5) | any_ids,
        methods,
        params_values,
        st.booleans(),
    )


def jkey(value: Any) -> str:
    """A key telling ``1``, ``"1"`` and ``True`` apart."""
    return json.dumps(value, sort_keys=True)


def readable_request_id(message: Any) -> Optional[Any]:
    """The id the server must answer for ``message`` (one request), or ``None``."""
    if not isinstance(message, dict) or message.get("method") is None or "id" not in message:
        return None
    rid = message["id"]
    return rid if type(rid) in (int, str) else None


def check_jsonrpc_shape(message: Any) -> None:
    """A message a server may send: a response, an error, a notification or a request."""
    assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", message
    if "method" in message:
        assert isinstance(message["method"], str)
        return
    assert ("result" in message) != ("error" in message), message
    if "error" in message:
        error = message["error"]
        assert type(error.get("code")) is int and isinstance(error.get("message"), str), message
        assert message.get("id") is None or type(message["id"]) in (int, str), message
    else:
        assert type(message.get("id")) in (int, str), message


class StdioClient:
    """A hand-driven client of ``Server.connect`` over the real stdio server transport (OS pipes)."""

    def __init__(self, server: Server) -> None:
        to_server_r, self.to_server = os.pipe()
        self.from_server, from_server_w = os.pipe()
        self.reader = WakeableReader(to_server_r)
        self.transport = ServerStreamTransport(self.reader, os.fdopen(from_server_w, "wb"), name="fuzz")
        self.connection = server.connect(self.transport, name="fuzz-client")
        self.messages: List[Any] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="fuzz-stdio-client")
        self._reader.start()

    def _read(self) -> None:
        with os.fdopen(self.from_server, "rb") as stream:
            for line in stream:
                assert line.endswith(b"\n") and line.count(b"\n") == 1
                value = json.loads(line)
                with self._changed:
                    self.messages.append(value)
                    self._changed.notify_all()

    def write(self, data: bytes, cuts: List[int]) -> None:
        offset, index = 0, 0
        while offset < len(data):
            offset += os.write(self.to_server, data[offset : offset + cuts[index % len(cuts)]])
            index += 1

    def answered(self) -> Set[str]:
        ids: Set[str] = set()
        for value in list(self.messages):
            for message in value if isinstance(value, list) else [value]:
                if isinstance(message, dict) and "method" not in message and message.get("id") is not None:
                    ids.add(jkey(message["id"]))
        return ids

    def wait_for(self, ids: Set[str], timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: ids <= self.answered(), timeout)

    def close(self) -> None:
        os.close(self.to_server)  # EOF: the connection ends
        self.connection.close()
        self.reader.release()
        self._reader.join(10)
        assert not self._reader.is_alive()


def expected_answers(lines: List[bytes]) -> Tuple[Set[str], Set[str]]:
    """Ids the server must answer, and ids a ``notifications/cancelled`` may leave unanswered."""
    must: Set[str] = set()
    maybe: Set[str] = set()
    for line in lines:
        ok, value = decoded(line)
        if not ok:
            continue
        for message in value if isinstance(value, list) else [value]:
            rid = readable_request_id(message)
            if rid is not None and message.get("method") != "subscriptions/listen":
                must.add(jkey(rid))
            if isinstance(message, dict) and message.get("method") == "notifications/cancelled":
                params = message.get("params")
                if isinstance(params, dict) and "requestId" in params:
                    maybe.add(jkey(params["requestId"]))
    return must - maybe, maybe


stdio_lines = st.lists(
    st.one_of(
        junk_lines.map(one_line),
        message_like().map(lambda m: one_line(json.dumps(m).encode())),
        server_requests().map(lambda m: one_line(json.dumps(m).encode())),
        st.lists(server_requests() | message_like() | json_values, min_size=1, max_size=4).map(lambda b: one_line(json.dumps(b).encode())),
    ),
    max_size=10,
)


@fuzz(30)
@given(
    handshake=st.sampled_from([None, MODERN, *LEGACY_VERSIONS]),
    lines=stdio_lines,
    cuts=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=6),
)
@example(handshake="2025-03-26", lines=[b'[{"jsonrpc":"2.0","id":5,"method":null},{"jsonrpc":"2.0","id":6,"method":"ping"}]\n'], cuts=[4096])
@example(handshake="2025-11-25", lines=[b"null\n"], cuts=[4096])
def test_the_stdio_server_answers_what_it_can_read_and_keeps_serving(handshake: Optional[str], lines: List[bytes], cuts: List[int]) -> None:
    server = make_server()
    with watched():
        client = StdioClient(server)
        try:
            if handshake in LEGACY_VERSIONS:
                init = make_request("init", "initialize", {"protocolVersion": handshake, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}})
                client.write(encode_message(init) + encode_message({"jsonrpc": "2.0", "method": "notifications/initialized"}), cuts)
                assert client.wait_for({jkey("init")})
            client.write(b"".join(lines), cuts)
            final = make_request("final-ping", "ping", {"_meta": ENVELOPE} if handshake == MODERN else None)
            client.write(encode_message(final), cuts)
            must, _maybe = expected_answers(lines)
            assert client.wait_for({jkey("final-ping"), *must}), sorted(must - client.answered())[:5]
            sent = {jkey(rid) for line in lines for rid in _ids_in(line)} | {jkey("init"), jkey("final-ping")}
            for value in list(client.messages):
                if isinstance(value, list):
                    assert value, "an empty batch response"
                for message in value if isinstance(value, list) else [value]:
                    check_jsonrpc_shape(message)
                    if "method" not in message and message.get("id") is not None:
                        assert jkey(message["id"]) in sent, f"an answer to a request nobody sent: {message}"
            assert client.connection  # still serving: the final ping was answered
        finally:
            client.close()
            server.close()


def _ids_in(line: bytes) -> List[Any]:
    ok, value = decoded(line)
    if not ok:
        return []
    return [m["id"] for m in (value if isinstance(value, list) else [value]) if isinstance(m, dict) and type(m.get("id")) in (int, str)]


# ============================================================================= 2. the server over HTTP (WSGI, in process)

HTTP_STATUSES = {200, 202, 204, 400, 403, 404, 405, 406, 411, 413, 415}


def call_wsgi(app: Any, environ: Dict[str, Any], read_for: float = 2.0) -> Tuple[int, Dict[str, str], bytes]:
    """Call the application as a WSGI server would; SSE bodies are read for ``read_for`` seconds at most."""
    seen: List[Tuple[str, List[Tuple[str, str]]]] = []

    def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        assert exc_info is None
        assert not seen, "start_response called twice"
        seen.append((status, headers))
        return lambda data: None

    body_iter = app(environ, start_response)
    chunks: List[bytes] = []
    deadline = time.monotonic() + read_for
    try:
        for chunk in body_iter:
            assert isinstance(chunk, bytes)
            chunks.append(chunk)
            if time.monotonic() > deadline:
                break
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    assert len(seen) == 1
    status, headers = seen[0]
    code, _, reason = status.partition(" ")
    assert code.isdigit() and len(code) == 3 and reason, status
    for name, value in headers:
        assert type(name) is str and type(value) is str and "\n" not in value and "\r" not in value, (name, value)
    return int(code), {name.lower(): value for name, value in headers}, b"".join(chunks)


def check_http_answer(code: int, headers: Dict[str, str], body: bytes) -> None:
    assert code in HTTP_STATUSES, (code, body[:300])
    kind = headers.get("content-type", "")
    if "content-length" in headers:
        assert int(headers["content-length"]) == len(body)
    if code in (202, 204):
        assert body == b""
        return
    if kind == "application/json":
        value = json.loads(body)
        for message in value if isinstance(value, list) else [value]:
            check_jsonrpc_shape(message)
            if code >= 400:
                assert "error" in message, (code, message)
    elif kind == "text/event-stream":
        assert code == 200
        for line in body.decode("utf-8").splitlines():
            if line.startswith("data:") and line[5:].strip():
                check_jsonrpc_shape(json.loads(line[5:]))
    else:
        assert code == 200 and body == b"", (code, headers, body[:200])


header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=20)
http_bodies = st.one_of(
    junk_lines,
    message_like().map(lambda m: json.dumps(m).encode()),
    server_requests().map(lambda m: json.dumps(m).encode()),
    st.lists(server_requests() | message_like(), max_size=3).map(lambda b: json.dumps(b).encode()),
)


#: A JSON POST to the app's ``/mcp`` (body and length apart), as a WSGI server would describe it.
POST_ENVIRON: Dict[str, Any] = {
    "REQUEST_METHOD": "POST",
    "PATH_INFO": "/mcp",
    "SCRIPT_NAME": "",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "HTTP_HOST": "127.0.0.1:8000",
    "CONTENT_TYPE": "application/json",
    "HTTP_ACCEPT": "application/json, text/event-stream",
    "wsgi.url_scheme": "http",
}


@st.composite
def hostile_environ(draw: Any, session: Optional[str]) -> Dict[str, Any]:
    """A request that passes the guards unless one or two of its parts were mutated."""
    message = draw(st.one_of(server_requests(), server_requests(), message_like(), st.lists(server_requests() | message_like(), max_size=3)))
    body = json.dumps(message).encode()
    first = message[0] if isinstance(message, list) and message else message
    method = first.get("method") if isinstance(first, dict) else None
    params = first.get("params") if isinstance(first, dict) else None
    modern = isinstance(params, dict) and "_meta" in params
    environ: Dict[str, Any] = {**POST_ENVIRON, "HTTP_MCP_PROTOCOL_VERSION": MODERN if modern else "2025-03-26"}
    if modern and isinstance(method, str):
        environ["HTTP_MCP_METHOD"] = method
        if isinstance(params, dict) and isinstance(params.get("name") or params.get("uri"), str):
            environ["HTTP_MCP_NAME"] = params.get("name") or params.get("uri")
    if session and not modern:
        environ["HTTP_MCP_SESSION_ID"] = session
    mutations = {
        "body": http_bodies,
        "REQUEST_METHOD": st.sampled_from(["GET", "DELETE", "PUT", "OPTIONS", "HEAD", "", "post", "BREW"]),
        "PATH_INFO": st.sampled_from(["/mcp/", "/", "/other", "/.well-known/oauth-protected-resource", "/mcp/x"]),
        "length": st.sampled_from(["none", "negative", "huge", "short", "terminated"]) | header_text,
        "CONTENT_TYPE": st.sampled_from(["application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", ""]) | header_text,
        "HTTP_ACCEPT": st.sampled_from(["application/json", "text/event-stream", "*/*", "text/html", "application/json;q=0", ""]) | header_text,
        "HTTP_MCP_SESSION_ID": st.sampled_from(["nope", ""]) | header_text,
        "HTTP_MCP_PROTOCOL_VERSION": st.sampled_from([MODERN, *LEGACY_VERSIONS, "1999-01-01", ""]) | header_text,
        "HTTP_MCP_METHOD": methods | header_text,
        "HTTP_MCP_NAME": st.sampled_from(["add", "=?base64?YWRk?=", "=?base64?!!?=", "note://one"]) | header_text,
        "HTTP_ORIGIN": st.sampled_from(["http://localhost:8000", "http://127.0.0.1:8000", "https://evil.example", "null"]) | header_text,
        "HTTP_HOST": st.sampled_from(["localhost", "evil.example", ""]) | header_text,
        "HTTP_LAST_EVENT_ID": st.sampled_from(["0", "x:1", "-1"]) | header_text,
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": st.sampled_from(["Mcp-Param-A", "Mcp-Param-\x00"]) | header_text,
    }
    length = "exact"
    for name in draw(st.lists(st.sampled_from(sorted(mutations)), max_size=2, unique=True)):
        value = draw(mutations[name])
        if name == "body":
            body = value
        elif name == "length":
            length = value
        elif name == "HTTP_MCP_SESSION_ID" and draw(st.booleans()):
            environ.pop(name, None)  # no session header at all
        else:
            environ[name] = value
    environ["wsgi.input"] = io.BytesIO(body)
    if length == "exact":
        environ["CONTENT_LENGTH"] = str(len(body))
    elif length == "negative":
        environ["CONTENT_LENGTH"] = "-5"
    elif length == "huge":
        environ["CONTENT_LENGTH"] = str(10**30)
    elif length == "short":
        environ["CONTENT_LENGTH"] = str(len(body) // 2)
    elif length == "terminated":
        environ["wsgi.input_terminated"] = True
    elif length != "none":
        environ["CONTENT_LENGTH"] = length
    return environ


def wsgi_environ(body: Any, *, headers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    data = json.dumps(body).encode()
    environ: Dict[str, Any] = {**POST_ENVIRON, "wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data))}
    environ.update(headers or {})
    return environ


def legacy_session(app: Any, version: str = "2025-03-26") -> str:
    init = make_request(1, "initialize", {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}})
    code, headers, body = call_wsgi(app, wsgi_environ(init))
    assert code == 200, body
    session = headers["mcp-session-id"]
    code, _, _ = call_wsgi(app, wsgi_environ({"jsonrpc": "2.0", "method": "notifications/initialized"}, headers={"HTTP_MCP_SESSION_ID": session}))
    assert code == 202
    return session


def final_answer(headers: Dict[str, str], body: bytes) -> Any:
    """The JSON-RPC answer in a JSON body, or the last one of an SSE stream."""
    if headers.get("content-type") == "text/event-stream":
        events = [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:") and line[5:].strip()]
        return events[-1]
    return json.loads(body)


def check_still_serving(app: Any, stateless: bool) -> None:
    """A normal client still gets its answers, in both eras."""
    legacy = {"HTTP_MCP_PROTOCOL_VERSION": "2025-06-18"}
    if not stateless:
        legacy["HTTP_MCP_SESSION_ID"] = legacy_session(app, "2025-06-18")
    call = make_request(2, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
    code, headers, body = call_wsgi(app, wsgi_environ(call, headers=legacy))
    assert code == 200 and final_answer(headers, body)["result"]["structuredContent"] == {"result": 5}, body
    call = make_request(3, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}, "_meta": ENVELOPE})
    modern = {"HTTP_MCP_PROTOCOL_VERSION": MODERN, "HTTP_MCP_METHOD": "tools/call", "HTTP_MCP_NAME": "add"}
    code, headers, body = call_wsgi(app, wsgi_environ(call, headers=modern))
    assert code == 200 and final_answer(headers, body)["result"]["structuredContent"] == {"result": 5}, body


@fuzz(25)
@given(data=st.data(), stateless=st.booleans(), json_response=st.booleans())
def test_the_http_server_answers_hostile_requests_with_the_right_shape_and_keeps_serving(
    data: st.DataObject, stateless: bool, json_response: bool
) -> None:
    server = make_server()
    app = server.wsgi_app(stateless=stateless, json_response=json_response, request_timeout=5.0, keepalive_interval=0.2, max_body_size=4096)
    with watched():
        try:
            session = None if stateless else legacy_session(app)
            for environ in data.draw(st.lists(hostile_environ(session), min_size=1, max_size=5)):
                code, headers, body = call_wsgi(app, environ, read_for=1.0)
                event(f"HTTP {code}")
                check_http_answer(code, headers, body)
            check_still_serving(app, stateless)
        finally:
            server.close()


# ============================================================================= the bugs fuzzing found, pinned


def test_a_null_line_is_not_eof_for_the_endpoint() -> None:
    """``null`` decoded to ``None``, which the reader took for EOF: one line ended the connection."""
    client_end, peer = memory_pair()
    endpoint = Endpoint(client_end, name="null-peer")
    endpoint.start()
    try:
        pending = endpoint.send_request("x")
        peer.send_raw(b"null\n")
        request = peer.receive(timeout=5)
        peer.send(make_result(request["id"], "fine"))
        assert pending.result(5) == "fine"
        assert endpoint.is_open and endpoint.stats["invalid"] == 1
    finally:
        endpoint.close()


def test_a_null_line_gets_invalid_request_from_the_stdio_server() -> None:
    server = make_server()
    client = StdioClient(server)
    try:
        client.write(b"null\n" + encode_message(make_request(7, "ping")), [4096])
        assert client.wait_for({jkey(7)})
        assert client.messages[0] == make_error(None, ErrorCode.INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    finally:
        client.close()
        server.close()


def test_a_cancellation_of_request_true_does_not_cancel_request_1() -> None:
    """``True == 1`` as a dict key: ``{"requestId": true}`` used to cancel the peer's request 1."""
    release = threading.Event()
    saw_cancel: List[bool] = []

    def handler(request: Any) -> Any:
        release.wait(5)
        saw_cancel.append(request.cancelled.is_set())
        return {"ok": True}

    client_end, peer = memory_pair()
    endpoint = Endpoint(client_end, name="cancel-peer", request_handler=handler)
    endpoint.start()
    try:
        peer.send(make_request(1, "work"))
        peer.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": True}})
        pending = endpoint.send_request("sync")  # the peer's messages before this one are read
        assert peer.receive(timeout=5)["method"] == "sync"
        peer.send(make_result(pending.id, {}))
        pending.result(5)
        release.set()
        assert peer.receive(timeout=5) == make_result(1, {"ok": True})
        assert saw_cancel == [False]
    finally:
        release.set()
        endpoint.close()


def test_a_batch_reusing_an_id_still_open_in_an_earlier_batch_loses_no_response() -> None:
    """The second batch took the id over: the first waited for it forever, holding its other answers."""
    server = make_server()
    gate = threading.Event()

    @server.tool()
    def block() -> str:
        """Wait for the test."""
        gate.wait(5)
        return "done"

    client = StdioClient(server)
    try:
        init = make_request("init", "initialize", {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "f", "version": "1"}})
        client.write(encode_message(init) + encode_message({"jsonrpc": "2.0", "method": "notifications/initialized"}), [4096])
        assert client.wait_for({jkey("init")})
        first = [make_request(1, "tools/call", {"name": "block", "arguments": {}}), make_request(2, "ping")]
        client.write(encode_message(first), [4096])
        client.write(encode_message([make_request(1, "ping")]) + encode_message(make_request("sync", "ping")), [4096])
        assert client.wait_for({jkey("sync")})
        gate.set()
        assert client.wait_for({jkey(1), jkey(2)})
        with client._changed:
            assert client._changed.wait_for(
                lambda: sum(len(v) if isinstance(v, list) else 1 for v in client.messages) == 5, 5  # init, sync, 1, 2, 1
            ), client.messages
    finally:
        gate.set()
        client.close()
        server.close()


def test_an_http_message_with_a_bool_id_is_refused_without_echoing_the_id() -> None:
    """``{"id": false}`` is no JSON-RPC id, yet the 400 answer carried it back."""
    server = make_server()
    app = server.wsgi_app()
    try:
        for rid in (False, True):
            code, headers, body = call_wsgi(app, wsgi_environ({"jsonrpc": "2.0", "id": rid, "bogus": 1}))
            assert code == 400 and json.loads(body) == make_error(None, ErrorCode.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")
            check_http_answer(code, headers, body)
    finally:
        server.close()
