#!/usr/bin/env python3
"""Benchmark syncmcp over Streamable HTTP against the limits and the official ``mcp`` SDK, in one run.

    .venv/bin/python tools/bench_http.py [--server fast] [--runs 3] [--pin]
                                         [--cases seq_latency,conc_8] [--impls raw_floor,syncmcp]
                                         [--out FILE.jsonl] [--from FILE.jsonl] [--profile N]

Run it with the project's venv (it has syncmcp); the official SDK side runs in the peers' venv
(``--peers-python``, default ``.peers/venv/bin/python``, or ``$SYNCMCP_PEERS_PYTHON``).
``BENCH_SCALE=0.1`` shrinks every count for a smoke run.

Every implementation talks to the same server process in a run; each (implementation, case) runs
in a fresh interpreter; ``--runs N`` repeats everything N times, one case for every
implementation before the next case, the order of implementations rotated from run to run.

Implementations (``--impls``):

* ``raw_floor``: the physical limit. One keep-alive socket, a hand-written HTTP/1.1 ``POST`` of
  the JSON-RPC body and a minimal response parse (JSON or SSE), no threads, no library. For
  ``conc_8``: 8 sockets driven from one thread with ``selectors`` (one request in flight on each).
* ``raw_threaded``: the limit for a thread-based sync client. The same wire code; each call takes
  a connection from a lock-guarded pool, does its exchange on the calling thread, and gives it
  back. ``conc_8``: 8 threads, so 8 keep-alive connections.
* ``syncmcp``: the public API only: ``syncmcp.connect_http(url)``, ``session.call_tool(...)``;
  ``conc_8`` is 8 threads sharing that one session. ``syncmcp_legacy`` is the same with
  ``protocol_era="legacy"`` (by default only against the FastMCP servers, which also speak the
  2026-07-28 era that syncmcp otherwise picks; the official SDK's ``initialize`` is legacy).
* ``official_sdk``: ``mcp.client.streamable_http.streamable_http_client`` + ``ClientSession`` on
  asyncio, as its docs show; ``conc_8`` is 8 tasks sharing one session.

Cases (``--cases``):

* ``seq_latency``: after a warm-up, N sequential ``tools/call`` round trips; p50/p90/p99 µs and
  calls/s.
* ``conc_8``: the same number of calls kept 8 in flight (after a concurrent warm-up); calls/s.
* ``connect``: import time, the first connect (to an initialized session) in the process, the
  median of later connect+close cycles.

Servers (``--server``, comma-separated for several):

* ``fast``: ``tools/bench_http_server.py``, stdlib, JSON answers (tool ``echo``); ``fast-sse``:
  the same answering with one-event SSE streams.
* ``fastmcp``: the FastMCP fixture (``tests/servers/fixture_server.py http``, peers' venv, tool
  ``add``), SSE answers, stateful; ``fastmcp-json``: the same with JSON answers.
* ``everything``: ``@modelcontextprotocol/server-everything streamableHttp`` (node, tool ``echo``).

Placement: by default the scheduler places every process; ``--pin`` puts every process, the
server included, on CPU 0 (what ``taskset -c 0`` does), which measures CPU work per call.

Output: one JSON object per (impl, case, server, run) on stdout as they finish (also appended to
``--out``), then one table per server and case: medians over the runs, and each implementation's
cost relative to ``raw_floor``, ``raw_threaded`` and ``official_sdk`` (the floor, threaded and
SDK ratio columns), each ratio taken within a run and the median shown. A ratio reads "times the
reference's cost" (for rates, the inverse ratio), so 1.00 is as fast and 0.50 is half the cost.
``cli CPU`` is the client's CPU time per call (all its threads), ``srv CPU`` the server
process's (its CPU-time clock, read from outside with ``clock_getcpuclockid``), ``srv util`` the
server's CPU time over the wall time: unpinned, near 1.0 (one core) the server is the
bottleneck; pinned, it is the server's share of the one core.

``--profile N`` runs N sequential syncmcp calls against the first ``--server`` under ``cProfile``
in every thread (syncmcp does the HTTP exchange on worker threads), timed with each thread's CPU
clock (``--profile-clock wall``: the wall clock, waits included), and prints the top functions per
call, e.g. ``.venv/bin/python tools/bench_http.py --profile 2000 --pin``.

Only 127.0.0.1 is ever contacted. Every child (server, workers) is reaped on exit, Ctrl-C and
SIGTERM included, and gets SIGKILL if this process dies without cleaning up.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
PC = time.perf_counter
PCNS = time.perf_counter_ns

# ----------------------------------------------------------------------------- the workload

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def _scaled(count: int, minimum: int = 1) -> int:
    return max(minimum, round(count * SCALE))


WARMUP_CALLS = _scaled(50)  # sequential calls before any timed loop (the first ones list tools, warm caches)
SEQ_CALLS = _scaled(2000)  # seq_latency: sequential round trips
CONC_CALLS = _scaled(2000, 8)  # conc_8: calls ...
INFLIGHT = 8  # ... kept this many in flight
CONC_WARMUP = INFLIGHT * _scaled(8)  # conc_8: calls with INFLIGHT in flight before the timed ones
CONNECT_REPS = _scaled(5)  # connect: connect+close cycles after the first
CLIENT_NAME = {"name": "bench-http", "version": "1.0"}
PROTOCOL_VERSION = "2025-11-25"

IMPLS = ("raw_floor", "raw_threaded", "syncmcp", "syncmcp_legacy", "official_sdk")
CASES = ("seq_latency", "conc_8", "connect")
REFS = (("raw_floor", "\u00d7floor"), ("raw_threaded", "\u00d7threaded"), ("official_sdk", "\u00d7SDK"))  # "times" sign

EVERYTHING_JS = ROOT / ".peers/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
FIXTURE_PY = ROOT / "tests/servers/fixture_server.py"
ECHO = ("echo", {"message": "hello world"}, "Echo: hello world")
ADD = ("add", {"a": 20, "b": 22}, "42")
#: server -> (description, tool call (name, arguments, expected text), also measure syncmcp_legacy)
SERVERS: Dict[str, Tuple[str, Tuple[str, Dict[str, Any], str], bool]] = {
    "fast": ("tools/bench_http_server.py, JSON answers", ECHO, False),
    "fast-sse": ("tools/bench_http_server.py --sse, one-event SSE answers", ECHO, False),
    "fastmcp": ("FastMCP fixture (mcp 2.3), SSE answers, stateful", ADD, True),
    "fastmcp-json": ("FastMCP fixture (mcp 2.3), JSON answers, stateful", ADD, True),
    "everything": ("server-everything streamableHttp (TypeScript SDK, node), SSE answers", ECHO, False),
}


# ----------------------------------------------------------------------------- small helpers


def pct(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100.0 * len(ordered)) - 1))]


def median(values: Sequence[float]) -> Optional[float]:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def latency_figures(latencies_ns: List[int]) -> Dict[str, float]:
    ordered = sorted(latencies_ns)
    return {
        "p50_us": round(pct(ordered, 50) / 1e3, 1),
        "p90_us": round(pct(ordered, 90) / 1e3, 1),
        "p99_us": round(pct(ordered, 99) / 1e3, 1),
        "mean_us": round(sum(ordered) / len(ordered) / 1e3, 1),
        "max_us": round(ordered[-1] / 1e3, 1),
    }


class ProcessClock:
    """CPU seconds of another process, all its threads (dead ones included).

    Its CPU-time clock (``clock_getcpuclockid``: nanoseconds, Linux); ``/proc/PID/stat`` (10 ms
    ticks) where that is not available.
    """

    def __init__(self, pid: Optional[int]) -> None:
        self.pid = pid
        self.clock: Optional[int] = None
        if pid:
            try:
                import ctypes

                clock = ctypes.c_int()
                if ctypes.CDLL(None, use_errno=True).clock_getcpuclockid(pid, ctypes.byref(clock)) == 0:
                    time.clock_gettime(clock.value)
                    self.clock = clock.value
            except (OSError, AttributeError, ValueError):
                self.clock = None

    def seconds(self) -> Optional[float]:
        if not self.pid:
            return None
        if self.clock is not None:
            try:
                return time.clock_gettime(self.clock)
            except OSError:
                return None
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time, this process's CPU time and the server's CPU time over a timed loop."""

    def __init__(self, server_pid: Optional[int]) -> None:
        self.server_clock = ProcessClock(server_pid)

    def __enter__(self) -> Meter:
        self.server0 = self.server_clock.seconds()
        self.cpu0 = time.process_time()
        self.wall0 = PC()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.wall = PC() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        server1 = self.server_clock.seconds()
        self.server = None if server1 is None or self.server0 is None else server1 - self.server0

    def figures(self, calls: int) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "n": calls,
            "calls_per_s": round(calls / self.wall, 1),
            "client_cpu_us": round(self.cpu / calls * 1e6, 1),
        }
        if self.server is not None:
            out["server_cpu_us"] = round(self.server / calls * 1e6, 1)
            out["server_util"] = round(self.server / self.wall, 2)
        return out


# ----------------------------------------------------------------------------- raw HTTP wire


ENC = json.JSONEncoder(separators=(",", ":")).encode
LOADS = json.loads


def parse_response(buf: bytes) -> Optional[Tuple[int, bytes, bytes, int]]:
    """``(status, lowercased head, body, bytes used)`` of the first complete response in ``buf``.

    ``None`` while it is incomplete. Bodies: ``Content-Length``, chunked, or none (202, 204).
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].lower()
    status = int(buf[9:12])
    start = end + 4
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        if len(buf) < start + length:
            return None
        return status, head, buf[start : start + length], start + length
    if b"chunked" not in head:
        return status, head, b"", start
    parts = []
    pos = start
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(buf[pos:line_end].split(b";", 1)[0], 16)
        if size == 0:  # no trailers: the last chunk, then CRLF
            if len(buf) < line_end + 4:
                return None
            return status, head, b"".join(parts), line_end + 4
        if len(buf) < line_end + 4 + size:
            return None
        parts.append(buf[line_end + 2 : line_end + 2 + size])
        pos = line_end + 4 + size


def header_value(raw_head: bytes, lowered_head: bytes, name: bytes) -> Optional[str]:
    """A header's value (case kept) from a response head; ``name`` lowercase, e.g. b"mcp-session-id"."""
    at = lowered_head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    stop = lowered_head.find(b"\r\n", at + 2)
    return raw_head[at + 3 + len(name) : stop if stop >= 0 else len(lowered_head)].strip().decode("latin-1")


def jsonrpc_answer(head: bytes, body: bytes, rid: Any) -> Dict[str, Any]:
    """The JSON-RPC message answering ``rid`` in a JSON body or an SSE stream."""
    if b"text/event-stream" in head:
        for line in body.split(b"\n"):
            if line.startswith(b"data:"):
                data = line[5:].strip()
                if data:
                    message = LOADS(data)
                    if message.get("id") == rid:
                        return message  # type: ignore[no-any-return]
        raise RuntimeError(f"no answer to {rid!r} in the SSE stream: {body[:200]!r}")
    return LOADS(body)  # type: ignore[no-any-return]


class RawConnection:
    """One keep-alive HTTP/1.1 connection: hand-written POSTs, a minimal response parser."""

    __slots__ = ("buf", "client", "rid", "sock", "started")

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.sock = socket.create_connection((client.host, client.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.rid: Any = None
        self.started = 0

    def post(self, body: bytes) -> None:
        self.sock.sendall(b"%s%d\r\n\r\n%s" % (self.client.prefix, len(body), body))

    def response(self) -> Tuple[int, bytes, bytes, bytes]:
        """(status, raw head, lowercased head, body) of the next response."""
        while True:
            parsed = parse_response(self.buf) if self.buf else None
            if parsed is not None:
                status, head, body, used = parsed
                raw_head, self.buf = self.buf[: len(head)], self.buf[used:]
                return status, raw_head, head, body
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.buf = self.buf + data if self.buf else data

    def close(self) -> None:
        self.sock.close()


class RawClient:
    """Session state shared by raw connections: the URL, the session id, the request prefix."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
        self.session_id: Optional[str] = None
        self.ids = iter(range(1, 1 << 62))
        self._set_prefix(b"")

    def _set_prefix(self, extra: bytes) -> None:
        self.prefix = (
            b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            b"Accept: application/json, text/event-stream\r\n%sContent-Length: "
            % (self.path.encode(), self.host.encode(), self.port, extra)
        )

    def rpc(self, conn: RawConnection, method: str, params: Dict[str, Any]) -> Any:
        rid = next(self.ids)
        conn.post(ENC({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode())
        status, raw_head, head, body = conn.response()
        if status != 200:
            raise RuntimeError(f"{method}: HTTP {status}: {body[:200]!r}")
        answer = jsonrpc_answer(head, body, rid)
        if "result" not in answer:
            raise RuntimeError(f"{method}: {answer}")
        if method == "initialize":
            self.session_id = header_value(raw_head, head, b"mcp-session-id")
            extra = b"MCP-Protocol-Version: %s\r\n" % answer["result"]["protocolVersion"].encode()
            if self.session_id:
                extra += b"Mcp-Session-Id: %s\r\n" % self.session_id.encode()
            self._set_prefix(extra)
        return answer["result"]

    def handshake(self) -> RawConnection:
        conn = RawConnection(self)
        self.rpc(conn, "initialize", {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_NAME})
        conn.post(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        status = conn.response()[0]
        if status not in (200, 202):
            raise RuntimeError(f"notifications/initialized: HTTP {status}")
        return conn

    def call_body(self, tool: str, arguments: Dict[str, Any]) -> Tuple[int, bytes]:
        rid = next(self.ids)
        return rid, ENC(
            {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        ).encode()

    def call(self, conn: RawConnection, tool: str, arguments: Dict[str, Any]) -> str:
        rid, body = self.call_body(tool, arguments)
        conn.post(body)
        status, _raw, head, data = conn.response()
        if status != 200:
            raise RuntimeError(f"tools/call: HTTP {status}: {data[:200]!r}")
        return jsonrpc_answer(head, data, rid)["result"]["content"][0]["text"]  # type: ignore[no-any-return]

    def end(self, conn: RawConnection) -> None:
        """DELETE the session (if the server gave one) and close ``conn``."""
        if self.session_id:
            conn.sock.sendall(
                b"DELETE %s HTTP/1.1\r\nHost: %s:%d\r\nMcp-Session-Id: %s\r\nContent-Length: 0\r\n\r\n"
                % (self.path.encode(), self.host.encode(), self.port, self.session_id.encode())
            )
            conn.response()
        conn.close()


class RawThreaded:
    """raw_threaded: each call takes a keep-alive connection from a lock-guarded pool, on the caller's thread."""

    def __init__(self, url: str) -> None:
        self.client = RawClient(url)
        self.idle = [self.client.handshake()]
        self.lock = threading.Lock()

    def call(self, tool: str, arguments: Dict[str, Any]) -> str:
        with self.lock:
            conn = self.idle.pop() if self.idle else None
        if conn is None:
            conn = RawConnection(self.client)
        text = self.client.call(conn, tool, arguments)
        with self.lock:
            self.idle.append(conn)
        return text

    def close(self) -> None:
        first, *rest = self.idle
        for conn in rest:
            conn.close()
        self.client.end(first)


def raw_floor_conc(
    client: RawClient, conns: List[RawConnection], tool: str, arguments: Dict[str, Any], total: int, expect: str
) -> List[int]:
    """``total`` calls, one in flight on each connection, all driven from this thread."""
    latencies: List[int] = []
    selector = selectors.DefaultSelector()
    sent = 0
    for conn in conns:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
        if sent < total:
            conn.rid, body = client.call_body(tool, arguments)
            conn.started = PCNS()
            conn.post(body)
            sent += 1
    try:
        done = 0
        while done < total:
            for key, _events in selector.select():
                conn = key.data
                data = conn.sock.recv(65536)
                if not data:
                    raise ConnectionError("the server closed a connection")
                conn.buf = conn.buf + data if conn.buf else data
                parsed = parse_response(conn.buf)
                if parsed is None:
                    continue
                status, head, body, used = parsed
                conn.buf = conn.buf[used:]
                if status != 200 or jsonrpc_answer(head, body, conn.rid)["result"]["content"][0]["text"] != expect:
                    raise RuntimeError(f"unexpected answer: HTTP {status} {body[:200]!r}")
                latencies.append(PCNS() - conn.started)
                done += 1
                if sent < total:
                    conn.rid, body = client.call_body(tool, arguments)
                    conn.started = PCNS()
                    conn.post(body)
                    sent += 1
    finally:
        selector.close()
    return latencies


# ----------------------------------------------------------------------------- the cases, sync clients


class SyncAdapter:
    """A synchronous client under test: ``load`` (timed as import), ``connect``, ``call``, ``close``."""

    impl = ""

    def __init__(self, spec: Dict[str, Any]) -> None:
        self.url = spec["url"]
        self.tool, self.arguments, self.expect = spec["tool"], spec["arguments"], spec["expect"]

    def load(self) -> None:
        pass

    def connect(self) -> Any:
        raise NotImplementedError

    def call(self, handle: Any) -> str:
        raise NotImplementedError

    def close(self, handle: Any) -> None:
        raise NotImplementedError

    def details(self, handle: Any) -> Dict[str, Any]:
        return {}

    def conc(self, handle: Any, total: int, meter: Meter) -> List[int]:
        """``total`` calls from INFLIGHT threads sharing ``handle``; per-call latencies."""
        per_thread = [total // INFLIGHT + (1 if i < total % INFLIGHT else 0) for i in range(INFLIGHT)]
        results: List[List[int]] = [[] for _ in range(INFLIGHT)]
        errors: List[BaseException] = []
        barrier = threading.Barrier(INFLIGHT + 1)
        call, expect = self.call, self.expect

        def work(count: int, out: List[int]) -> None:
            barrier.wait()
            try:
                for _ in range(count):
                    started = PCNS()
                    text = call(handle)
                    out.append(PCNS() - started)
                    if text != expect:
                        raise RuntimeError(f"unexpected answer {text!r}")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(per_thread[i], results[i])) for i in range(INFLIGHT)]
        for thread in threads:
            thread.start()
        with meter:
            barrier.wait()
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]
        return [value for out in results for value in out]


class RawFloorAdapter(SyncAdapter):
    impl = "raw_floor"

    def connect(self) -> Any:
        client = RawClient(self.url)
        return client, client.handshake()

    def call(self, handle: Any) -> str:
        client, conn = handle
        return client.call(conn, self.tool, self.arguments)  # type: ignore[no-any-return]

    def close(self, handle: Any) -> None:
        client, conn = handle
        client.end(conn)

    def conc(self, handle: Any, total: int, meter: Meter) -> List[int]:
        client, first = handle
        conns = [first] + [RawConnection(client) for _ in range(INFLIGHT - 1)]
        try:
            raw_floor_conc(client, conns, self.tool, self.arguments, CONC_WARMUP, self.expect)
            with meter:
                return raw_floor_conc(client, conns, self.tool, self.arguments, total, self.expect)
        finally:
            for conn in conns[1:]:
                conn.close()


class RawThreadedAdapter(SyncAdapter):
    impl = "raw_threaded"

    def connect(self) -> Any:
        return RawThreaded(self.url)

    def call(self, handle: Any) -> str:
        return handle.call(self.tool, self.arguments)  # type: ignore[no-any-return]

    def close(self, handle: Any) -> None:
        handle.close()


class SyncmcpAdapter(SyncAdapter):
    impl = "syncmcp"
    options: Dict[str, Any] = {}

    def load(self) -> None:
        sys.path.insert(0, str(ROOT))
        import syncmcp

        self.syncmcp = syncmcp

    def connect(self) -> Any:
        return self.syncmcp.connect_http(self.url, **self.options)

    def call(self, handle: Any) -> str:
        return handle.call_tool(self.tool, self.arguments).text  # type: ignore[no-any-return]

    def close(self, handle: Any) -> None:
        handle.close()

    def details(self, handle: Any) -> Dict[str, Any]:
        return {"era": handle.era, "protocol": handle.protocol_version}


class SyncmcpLegacyAdapter(SyncmcpAdapter):
    impl = "syncmcp_legacy"
    options = {"protocol_era": "legacy"}


ADAPTERS = {cls.impl: cls for cls in (RawFloorAdapter, RawThreadedAdapter, SyncmcpAdapter, SyncmcpLegacyAdapter)}


def run_sync_case(adapter: SyncAdapter, spec: Dict[str, Any]) -> Dict[str, Any]:
    case, server_pid = spec["case"], spec.get("server_pid")
    started = PC()
    adapter.load()
    import_ms = (PC() - started) * 1e3
    if case == "connect":
        started = PC()
        handle = adapter.connect()
        first = PC() - started
        details = adapter.details(handle)
        started = PC()
        adapter.close(handle)
        closes, warm = [PC() - started], []
        for _ in range(CONNECT_REPS):
            started = PC()
            handle = adapter.connect()
            warm.append(PC() - started)
            started = PC()
            adapter.close(handle)
            closes.append(PC() - started)
        return {
            "import_ms": round(import_ms, 2),
            "first_ms": round(first * 1e3, 2),
            "warm_ms": round(median(warm) * 1e3, 2),
            "close_ms": round(median(closes) * 1e3, 2),
            **details,
        }
    handle = adapter.connect()
    try:
        for _ in range(WARMUP_CALLS):
            text = adapter.call(handle)
            if text != adapter.expect:
                raise RuntimeError(f"unexpected answer {text!r}, expected {adapter.expect!r}")
        meter = Meter(server_pid)
        if case == "seq_latency":
            latencies = []
            call = adapter.call
            with meter:
                for _ in range(SEQ_CALLS):
                    t0 = PCNS()
                    text = call(handle)
                    latencies.append(PCNS() - t0)
            if text != adapter.expect:
                raise RuntimeError(f"unexpected answer {text!r}")
        elif case == "conc_8":
            adapter.conc(handle, CONC_WARMUP, Meter(None))
            latencies = adapter.conc(handle, CONC_CALLS, meter)
        else:
            raise ValueError(f"unknown case {case!r}")
        return {**meter.figures(len(latencies)), **latency_figures(latencies), **adapter.details(handle)}
    finally:
        adapter.close(handle)


# ----------------------------------------------------------------------------- the official SDK (asyncio)


def run_sdk_case(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One case with mcp's Streamable HTTP client and ClientSession (run in the peers' venv)."""
    import asyncio
    import logging
    from contextlib import AsyncExitStack

    logging.getLogger("mcp").setLevel(logging.WARNING)
    started = PC()
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    import_ms = (PC() - started) * 1e3
    case, url, server_pid = spec["case"], spec["url"], spec.get("server_pid")
    tool, arguments, expect = spec["tool"], spec["arguments"], spec["expect"]

    async def connect(stack: AsyncExitStack) -> Any:
        read, write = await stack.enter_async_context(streamable_http_client(url))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        return session

    async def call(session: Any) -> str:
        result = await session.call_tool(tool, arguments)
        return result.content[0].text  # type: ignore[no-any-return]

    async def conc(session: Any, total: int, meter: Meter) -> List[int]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(i)
        latencies: List[int] = []

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                t0 = PCNS()
                text = await call(session)
                latencies.append(PCNS() - t0)
                if text != expect:
                    raise RuntimeError(f"unexpected answer {text!r}")

        with meter:
            await asyncio.gather(*(worker() for _ in range(INFLIGHT)))
        return latencies

    async def main() -> Dict[str, Any]:
        if case == "connect":
            t0 = PC()
            stack = AsyncExitStack()
            await connect(stack)
            first = PC() - t0
            t0 = PC()
            await stack.aclose()
            closes, warm = [PC() - t0], []
            for _ in range(CONNECT_REPS):
                t0 = PC()
                stack = AsyncExitStack()
                await connect(stack)
                warm.append(PC() - t0)
                t0 = PC()
                await stack.aclose()
                closes.append(PC() - t0)
            return {
                "import_ms": round(import_ms, 2),
                "first_ms": round(first * 1e3, 2),
                "warm_ms": round(median(warm) * 1e3, 2),
                "close_ms": round(median(closes) * 1e3, 2),
            }
        async with AsyncExitStack() as stack:
            session = await connect(stack)
            for _ in range(WARMUP_CALLS):
                text = await call(session)
                if text != expect:
                    raise RuntimeError(f"unexpected answer {text!r}, expected {expect!r}")
            meter = Meter(server_pid)
            if case == "seq_latency":
                latencies = []
                with meter:
                    for _ in range(SEQ_CALLS):
                        t0 = PCNS()
                        text = await call(session)
                        latencies.append(PCNS() - t0)
                if text != expect:
                    raise RuntimeError(f"unexpected answer {text!r}")
            elif case == "conc_8":
                await conc(session, CONC_WARMUP, Meter(None))
                latencies = await conc(session, CONC_CALLS, meter)
            else:
                raise ValueError(f"unknown case {case!r}")
            return {**meter.figures(len(latencies)), **latency_figures(latencies)}

    return asyncio.run(main())


def worker_main(spec: Dict[str, Any]) -> int:
    """Run one case of one implementation in this (fresh) process; print one JSON line."""
    impl = spec["impl"]
    try:
        if impl == "official_sdk":
            figures = run_sdk_case(spec)
        else:
            figures = run_sync_case(ADAPTERS[impl](spec), spec)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        print(json.dumps({"impl": impl, "case": spec["case"], "error": repr(exc)[:500]}), flush=True)
        return 1
    record = {
        "impl": impl,
        "case": spec["case"],
        **figures,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }
    print(json.dumps(record), flush=True)
    return 0


# ----------------------------------------------------------------------------- processes


def _die_with_parent() -> None:
    """In a child before exec: get SIGKILL when the benchmark dies, whatever kills it (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """A benchmark server process (its own process group, dying with this one), reaped by ``stop``.

    Subclasses start it with :meth:`spawn` and wait with :meth:`wait_ready`; ``bench_http_serve``
    uses it too.
    """

    kind: str
    log_path: str
    process: subprocess.Popen  # type: ignore[type-arg]

    def spawn(self, argv: List[str], env: Dict[str, str], *, stdout_pipe: bool = False) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE if stdout_pipe else log,
                stderr=log,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads here)
            )

    def wait_ready(self, probe: Callable[[], None], timeout: float, where: str) -> None:
        """Call ``probe`` until it stops raising ``OSError`` (the server answers), within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.process.returncode}:\n{self.log()}")
            try:
                probe()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.kind} server not ready at {where} after {timeout} s:\n{self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        process = self.process
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except OSError:
                    pass
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


class Server(ServerProcess):
    """One MCP server process for the client benchmark."""

    def __init__(self, kind: str, peers_python: str, folder: str) -> None:
        self.kind = kind
        self.log_path = os.path.join(folder, f"server-{kind}.log")
        self.tool, self.arguments, self.expect = SERVERS[kind][1]
        env = dict(os.environ)
        port = 0
        if kind.startswith("fast") and not kind.startswith("fastmcp"):
            argv = [sys.executable, "-I", "-S", str(TOOLS / "bench_http_server.py"), "--exit-on-stdin-eof"]
            argv += ["--sse"] if kind == "fast-sse" else []
        elif kind.startswith("fastmcp"):
            port = free_port()
            argv = [peers_python, str(FIXTURE_PY), "http", str(port)] + (["--json"] if kind == "fastmcp-json" else [])
        elif kind == "everything":
            port = free_port()
            env["PORT"] = str(port)
            argv = ["node", str(EVERYTHING_JS), "streamableHttp"]
        else:
            raise ValueError(f"unknown server {kind!r}")
        self.spawn(argv, env, stdout_pipe=port == 0)
        try:
            if port == 0:
                assert self.process.stdout is not None
                line = self.process.stdout.readline().decode()
                if not line.startswith("LISTENING "):
                    raise RuntimeError(f"{kind} server did not start: {line!r}\n{self.log()}")
                port = int(line.split()[1])
            self.url = f"http://127.0.0.1:{port}/mcp"
            self.wait_ready(self._probe, 30.0, f"port {port}")
        except BaseException:
            self.stop()
            raise

    def _probe(self) -> None:
        client = RawClient(self.url)
        conn = client.handshake()
        try:
            text = client.call(conn, self.tool, self.arguments)
        finally:
            client.end(conn)
        if text != self.expect:
            raise RuntimeError(f"{self.kind} server answered {text!r}, expected {self.expect!r}")


def run_fresh(argv: List[str], timeout: float) -> Tuple[str, str, Optional[int]]:
    """Run a benchmark child: ``(stdout, stderr, exit code)``, ``None`` for the code after a timeout.

    The child is always reaped (killed on a timeout or an interruption).
    """
    child = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 (the orchestrator runs no threads)
    )
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        return out, err, None
    except BaseException:
        child.kill()
        child.wait()
        raise
    return out, err, child.returncode


def run_worker(python: str, spec: Dict[str, Any], timeout: float = 900) -> Tuple[List[Dict[str, Any]], str]:
    """Run one case in a fresh interpreter; its JSON lines and stderr."""
    out, err, code = run_fresh([python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)], timeout)
    if code is None:
        return [{"impl": spec["impl"], "case": spec["case"], "error": f"timeout after {timeout} s"}], err
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if not records:
        records = [{"impl": spec["impl"], "case": spec["case"], "error": f"no output (exit {code})"}]
    return records, err


def placement() -> str:
    cpus = len(os.sched_getaffinity(0))
    return f"pinned{cpus}" if cpus < (os.cpu_count() or cpus) else "unpinned"


def collect(options: argparse.Namespace, servers: List[str], cases: List[str], out: Any) -> List[Dict[str, Any]]:
    records: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_http-") as folder:
        for kind in servers:
            impls = [i for i in options.impls if i != "syncmcp_legacy" or SERVERS[kind][2] or options.impls_given]
            server = Server(kind, options.peers_python, folder)
            try:
                for run in range(1, options.runs + 1):
                    shift = (run - 1) % len(impls)
                    rotated = impls[shift:] + impls[:shift]
                    for case in cases:
                        for impl in rotated:
                            spec = {
                                "impl": impl,
                                "case": case,
                                "url": server.url,
                                "tool": server.tool,
                                "arguments": server.arguments,
                                "expect": server.expect,
                                "server_pid": server.process.pid,
                            }
                            python = options.peers_python if impl == "official_sdk" else sys.executable
                            started = time.time()
                            found, err = run_worker(python, spec)
                            for record in found:
                                record.update(server=kind, run=run, placement=placement(), cpus=len(os.sched_getaffinity(0)))
                                emit(record, records, out)
                            failed = [r for r in found if "error" in r]
                            status = "ERROR " + failed[0]["error"] + "\n" + err[-2000:] if failed else "ok"
                            print(
                                f"# {kind:12} run {run}  {case:12} {impl:15} {time.time() - started:5.1f}s  {status}",
                                file=sys.stderr,
                                flush=True,
                            )
                    if server.process.poll() is not None:
                        raise RuntimeError(f"the {kind} server died:\n{server.log()}")
            finally:
                server.stop()
    return records


# ----------------------------------------------------------------------------- the tables

#: case -> (metric for the ratios, "lower"|"higher" is better, [(metric, column title)])
COLUMNS: Dict[str, Tuple[str, str, List[Tuple[str, str]]]] = {
    "seq_latency": (
        "p50_us",
        "lower",
        [
            ("p50_us", "p50 µs"),
            ("p90_us", "p90 µs"),
            ("p99_us", "p99 µs"),
            ("calls_per_s", "calls/s"),
            ("client_cpu_us", "cli CPU µs"),
            ("server_cpu_us", "srv CPU µs"),
            ("server_util", "srv util"),
        ],
    ),
    "conc_8": (
        "calls_per_s",
        "higher",
        [
            ("calls_per_s", "calls/s"),
            ("p50_us", "p50 µs"),
            ("p99_us", "p99 µs"),
            ("client_cpu_us", "cli CPU µs"),
            ("server_cpu_us", "srv CPU µs"),
            ("server_util", "srv util"),
        ],
    ),
    "connect": (
        "warm_ms",
        "lower",
        [("import_ms", "import ms"), ("first_ms", "first ms"), ("warm_ms", "warm ms"), ("close_ms", "close ms")],
    ),
}
CASE_TITLES = {
    "seq_latency": "seq_latency: {n} sequential calls (ratios on p50)",
    "conc_8": "conc_8: {n} calls, " + str(INFLIGHT) + " in flight (ratios on calls/s)",
    "connect": "connect: to an initialized session, first in process and median of later connect+close cycles (ratios on warm)",
}


def fmt(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def tables(records: List[Dict[str, Any]]) -> str:
    """One markdown table per (server, placement, case)."""
    by_run: Dict[Tuple[str, str, str, str], Dict[int, Dict[str, Any]]] = collections.defaultdict(dict)
    for record in records:
        if "error" not in record:
            key = (record.get("server", "?"), record.get("placement", "?"), record["case"], record["impl"])
            by_run[key][record.get("run", 0)] = record
    lines: List[str] = []
    groups = sorted({key[:2] for key in by_run}, key=lambda g: (list(SERVERS).index(g[0]) if g[0] in SERVERS else 99, g[1]))
    for server, where in groups:
        runs = max(len(v) for k, v in by_run.items() if k[:2] == (server, where))
        lines.append(f"\n### server `{server}` ({SERVERS.get(server, ('?',))[0]}), {where}, {runs} run(s)")
        for case in CASES:
            impls = [impl for impl in IMPLS if (server, where, case, impl) in by_run]
            if not impls:
                continue
            ratio_metric, better, columns = COLUMNS[case]
            refs = [(ref, title) for ref, title in REFS if (server, where, case, ref) in by_run]
            counts = {r.get("n") for impl in impls for r in by_run[(server, where, case, impl)].values()} - {None}
            lines.append("\n" + CASE_TITLES[case].format(n="/".join(str(c) for c in sorted(counts)) or "?") + "\n")
            lines.append(
                "| impl | " + " | ".join(title for _m, title in columns) + " | " + " | ".join(t for _r, t in refs) + " |"
            )
            lines.append("|---|" + "---:|" * (len(columns) + len(refs)))
            for impl in impls:
                per_run = by_run[(server, where, case, impl)]
                cells = median_cells(per_run, [m for m, _t in columns])
                for ref, _title in refs:
                    same = impl == ref
                    cells.append(ratio_cell(per_run, {} if same else by_run[(server, where, case, ref)], ratio_metric, better))
                eras = {r.get("era") for r in per_run.values() if r.get("era")}
                label = impl + (f" ({'/'.join(sorted(eras))})" if eras else "")
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- profile


def profile(kind: str, calls: int, peers_python: str, top: int, clock: str) -> int:
    """Sequential syncmcp calls under cProfile in every thread; print the top functions per call.

    ``clock="cpu"`` times with each thread's CPU clock (waiting costs nothing: where the CPU goes),
    ``"wall"`` with the wall clock (blocking calls show how long each thread waited).
    The worker threads' profiles also hold the handshake and the warm-up calls (a few %).
    """
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    import syncmcp

    timer = time.thread_time if clock == "cpu" else time.perf_counter
    profilers: List[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profiler = cProfile.Profile(timer)
        profilers.append(profiler)
        profiler.enable()
        try:
            original_run(self)
        finally:
            profiler.disable()

    with tempfile.TemporaryDirectory(prefix="bench_http-") as folder:
        server = Server(kind, peers_python, folder)
        try:
            tool, arguments, expect = server.tool, server.arguments, server.expect
            session = syncmcp.connect_http(server.url)
            try:
                for _ in range(WARMUP_CALLS):
                    session.call_tool(tool, arguments)
                started = PC()
                for _ in range(calls):
                    session.call_tool(tool, arguments)
                plain = PC() - started
            finally:
                session.close()
            threading.Thread.run = profiled_run  # type: ignore[method-assign]
            main_profiler = cProfile.Profile(timer)
            try:
                session = syncmcp.connect_http(server.url)
                try:
                    for _ in range(WARMUP_CALLS):
                        session.call_tool(tool, arguments)
                    started = PC()
                    main_profiler.enable()
                    for _ in range(calls):
                        text = session.call_tool(tool, arguments).text
                    main_profiler.disable()
                    profiled = PC() - started
                finally:
                    session.close()
            finally:
                threading.Thread.run = original_run  # type: ignore[method-assign]
            if text != expect:
                raise RuntimeError(f"unexpected answer {text!r}")
        finally:
            server.stop()
    print(
        f"# syncmcp, {calls} sequential calls against `{kind}`: {plain / calls * 1e6:.0f} µs/call unprofiled, "
        f"{profiled / calls * 1e6:.0f} µs/call under cProfile (every thread, {clock} clock); times below are per call"
    )
    stats = pstats.Stats(main_profiler)
    for profiler in profilers:
        stats.add(profiler)
    entries = []
    by_file: Dict[str, float] = collections.defaultdict(float)
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(filename).name}:{line}({name})" if line else name
        entries.append((where, ncalls, tottime, cumtime))
        by_file[_profile_group(filename, name)] += tottime
    total = sum(by_file.values())
    print(f"\nown time by module: µs/call, share (profiled total {total / calls * 1e6:.0f} µs/call)")
    for group, seconds in sorted(by_file.items(), key=lambda item: -item[1])[:top]:
        print(f"{seconds / calls * 1e6:9.1f} {seconds / total:6.1%}  {group}")
    for title, index in (("own time (tottime)", 2), ("cumulative time (cumtime)", 3)):
        print(f"\n{title}: µs/call, share, calls/call, function")
        for where, ncalls, tottime, cumtime in sorted(entries, key=lambda e: -e[index])[:top]:
            value = tottime if index == 2 else cumtime
            print(f"{value / calls * 1e6:9.1f} {value / total:6.1%} {ncalls / calls:7.2f}  {where}")
    return 0


def _profile_group(filename: str, name: str) -> str:
    """``syncmcp/_http.py``, ``stdlib threading.py``, or the kind of built-in (``socket``, ``lock``...)."""
    if filename == "~":  # a built-in function or method: group by what it belongs to
        for word in ("socket", "lock", "queue", "select", "str", "dict", "list", "bytes", "isinstance", "json", "abc"):
            if word in name:
                return f"built-in ({word})"
        return "built-in (other)"
    path = Path(filename)
    return f"syncmcp/{path.name}" if path.parent.name == "syncmcp" else f"stdlib {path.name}"


# ----------------------------------------------------------------------------- main


def emit(record: Dict[str, Any], records: List[Dict[str, Any]], out: Optional[IO[str]]) -> None:
    """Keep a record, print it as a JSON line, and append it to the ``--out`` file."""
    records.append(record)
    line = json.dumps(record)
    print(line, flush=True)
    if out is not None:
        out.write(line + "\n")
        out.flush()


def median_cells(per_run: Dict[Any, Dict[str, Any]], metrics: List[str]) -> List[str]:
    """Each metric's median over the runs, formatted."""
    return [fmt(median([r[m] for r in per_run.values() if isinstance(r.get(m), (int, float))])) for m in metrics]


def ratio_cell(per_run: Dict[Any, Dict[str, Any]], ref_runs: Dict[Any, Dict[str, Any]], metric: str, better: str) -> str:
    """The median, over the runs both have, of this cost over the reference's ("—" when none)."""
    ratios = []
    for run, record in per_run.items():
        mine, theirs = record.get(metric), ref_runs.get(run, {}).get(metric)
        if isinstance(mine, (int, float)) and isinstance(theirs, (int, float)) and mine > 0 and theirs > 0:
            ratios.append(mine / theirs if better == "lower" else theirs / mine)
    return f"{median(ratios):.2f}" if ratios else "—"


def add_run_options(parser: argparse.ArgumentParser, peers_help: str) -> None:
    """The options every HTTP benchmark takes: runs, placement, the peers' Python, records in and out."""
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (default 3)")
    parser.add_argument("--pin", action="store_true", help="every process, the servers included, on CPU 0")
    parser.add_argument(
        "--peers-python", default=os.environ.get("SYNCMCP_PEERS_PYTHON", str(ROOT / ".peers/venv/bin/python")), help=peers_help
    )
    parser.add_argument("--out", help="append the JSON records to this file too")
    parser.add_argument("--from", dest="from_file", help="print the tables of a records file; run nothing")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--server", default="fast", help=f"comma-separated, of: {', '.join(SERVERS)} (default: fast)")
    parser.add_argument("--cases", default="", help=f"comma-separated, of: {', '.join(CASES)} (default: all)")
    parser.add_argument("--impls", default="", help=f"comma-separated, of: {', '.join(IMPLS)} (default: all that apply)")
    add_run_options(parser, "a Python with the official mcp package (and the FastMCP fixture's needs)")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N sequential syncmcp calls (first --server)")
    parser.add_argument("--top", type=int, default=30, help="functions listed by --profile")
    parser.add_argument(
        "--profile-clock", choices=("cpu", "wall"), default="cpu", help="--profile: each thread's CPU clock or the wall clock"
    )
    options = parser.parse_args(argv)
    if options.worker:
        return worker_main(json.loads(options.worker))
    if options.from_file:
        with open(options.from_file) as records_file:
            print(tables([json.loads(line) for line in records_file if line.strip()]))
        return 0
    servers = [s for s in options.server.split(",") if s]
    cases = [c for c in options.cases.split(",") if c] or list(CASES)
    options.impls_given = bool(options.impls)
    options.impls = [i for i in options.impls.split(",") if i] or list(IMPLS)
    for value, known, what in ((servers, SERVERS, "server"), (cases, CASES, "case"), (options.impls, IMPLS, "impl")):
        unknown = [v for v in value if v not in known]
        if unknown:
            parser.error(f"unknown {what}: {', '.join(unknown)}")
    if "official_sdk" in options.impls and not Path(options.peers_python).exists():
        print(f"official_sdk skipped: no Python at {options.peers_python}", file=sys.stderr)
        options.impls.remove("official_sdk")
    if options.pin:
        os.sched_setaffinity(0, {0})  # inherited by every child: the server and each worker
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so the finally blocks stop the server and the worker.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    try:
        if options.profile:
            return profile(servers[0], options.profile, options.peers_python, options.top, options.profile_clock)
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(options.out, "a")) if options.out else None
            records = collect(options, servers, cases, out)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(tables(records))
    errors = [r for r in records if "error" in r]
    for record in errors:
        print(
            f"ERROR {record['server']} {record['impl']} {record['case']} run {record['run']}: {record['error']}", file=sys.stderr
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
