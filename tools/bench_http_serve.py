#!/usr/bin/env python3
"""Benchmark the SERVER side of MCP over Streamable HTTP: syncmcp's servers against the official SDK's
and against the limit, a hand-written stdlib server.

    .venv/bin/python tools/bench_http_serve.py [--runs 3] [--pin] [--servers raw,embedded,gunicorn,official]
                                               [--cases seq,conc_8] [--era modern|legacy] [--out FILE.jsonl]
    .venv/bin/python tools/bench_http_serve.py --from FILE.jsonl        # the tables of saved records
    .venv/bin/python tools/bench_http_serve.py --profile 3000 [--pin]   # where the embedded server spends time

``BENCH_SCALE=0.1`` shrinks every count for a smoke run. The official SDK's server runs in the
peers' venv (``--peers-python``, default ``.peers/venv/bin/python``, or ``$SYNCMCP_PEERS_PYTHON``).

Servers (every one started once per invocation, all serving the same trivial tool,
``echo(text: str) -> str``, on 127.0.0.1):

* ``raw``: the limit for a Python server on this machine: ``tools/bench_http_server.py`` (also
  bench_http.py's ``fast`` server), no framework, stdlib only. Raw sockets, a thread per
  connection, HTTP/1.1 keep-alive, ``TCP_NODELAY``, only the request line, ``Content-Length`` and
  the body parsed, the body decoded with ``json.loads`` and the answer encoded with ``json``'s
  encoder, one ``sendall`` per response. It answers what this client sends and checks nothing
  else: modern ``tools/call`` gets ``resultType`` and ``serverInfo`` stamped in ``_meta`` as the
  SDKs do; legacy ``initialize`` gets 2025-11-25 and no session, the notification 202.
* ``embedded``: ``Server.run_http`` (stdlib ``wsgiref`` + ``ThreadingMixIn``, a thread per
  connection, HTTP/1.1 keep-alive; default options, so legacy clients get sessions).
* ``gunicorn``: the same application, ``Server.wsgi_app(stateless=True)``, under
  ``gunicorn -w 4 -k gthread --threads 4`` (keep-alive); every worker gets one
  ``SYNCMCP_SERVER_SECRET``, so any worker can answer any request.
* ``official``: the official ``mcp`` SDK's ``MCPServer`` (FastMCP) served by its
  ``run("streamable-http", stateless_http=True, json_response=True)`` (uvicorn, log level WARNING
  so there is no access log, as for the others).

The client is the same for every server, so only the server differs: a hand-written HTTP/1.1
client on raw sockets (no library), keep-alive where the server keeps the connection open (it
reconnects when the server closes it, e.g. an HTTP/1.0 server after every response: that connect
is then part of that server's cost; ``connects`` in the records counts them). ``--era modern`` (default) sends stateless 2026-07-28
requests: the ``_meta`` envelope in the body and the ``MCP-Protocol-Version``, ``Mcp-Method`` and
``Mcp-Name`` headers, no handshake. ``--era legacy`` sends ``initialize`` +
``notifications/initialized`` once, then ``tools/call`` with ``MCP-Protocol-Version: 2025-11-25``
(and ``Mcp-Session-Id`` where the server issued one). Every answer is parsed and checked.

Cases (``--cases``), each (server, case, run) measured by a fresh client process:

* ``seq``: after a warm-up, N sequential ``tools/call`` round trips on one thread: p50/p90/p99 µs
  and calls/s.
* ``conc_8``: the same number of calls from 8 client threads, each on its own connection (after
  a concurrent warm-up): calls/s, and p50/p99 of each call.

``--runs N`` repeats everything N times: one case for every server before the next case, the
order of the servers rotated from run to run. ``--pin`` puts every process (the servers, gunicorn's
workers, the clients) on CPU 0, which measures CPU work per call; unpinned, the scheduler places
them. ``srv CPU`` is the server's CPU time per call, all its processes and threads (read from
outside with ``clock_getcpuclockid``), ``srv util`` that CPU time over the wall time (unpinned,
near 1.0 a single-process server is the bottleneck), ``cli CPU`` the client's CPU time per call.

Output: one JSON object per measurement on stdout as it finishes (also appended to ``--out``),
then one Markdown table per placement and case: medians over the runs, and ratios to the raw
server (the limit), the embedded one and the official SDK's (the ``raw``, ``embedded`` and ``SDK``
ratio columns), each taken within a run and the median shown. A ratio reads "times the
reference's cost" (for rates, the inverse), so 0.50 is half the cost.

``--profile N`` runs the embedded server under cProfile in every thread (each thread's CPU clock,
so waiting costs nothing), sends it N sequential calls from this process, stops it, and prints
the top functions per call.

Every child is reaped on exit, Ctrl-C and SIGTERM included, and gets SIGKILL if this process
dies without cleaning up.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
from bench_http import (  # noqa: E402  (the project's other HTTP benchmark: shared helpers, stdlib only)
    ProcessClock,
    add_run_options,
    emit,
    free_port,
    jsonrpc_answer,
    latency_figures,
    median_cells,
    parse_response,
    ratio_cell,
    run_fresh,
)
from bench_http import ServerProcess as BenchServerProcess  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
WARMUP = max(1, round(100 * SCALE))
CALLS = max(8, round(2000 * SCALE))
INFLIGHT = 8
SERVERS = ("raw", "embedded", "gunicorn", "official")
CASES = ("seq", "conc_8")
MODERN, LEGACY = "2026-07-28", "2025-11-25"
TEXT = "hello world"
CLIENT_INFO = {"name": "bench-http-serve", "version": "1.0"}
ENC = json.JSONEncoder(separators=(",", ":")).encode
GUNICORN_WORKERS, GUNICORN_THREADS = 4, 4

# ----------------------------------------------------------------------------- the servers


def syncmcp_server() -> Any:
    sys.path.insert(0, str(ROOT))
    from syncmcp.server import Server

    server = Server("bench-serve")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    return server


def gunicorn_app() -> Any:
    """The WSGI application gunicorn loads in each worker (``bench_http_serve:gunicorn_app()``)."""
    return syncmcp_server().wsgi_app(stateless=True, allowed_hosts=["127.0.0.1:*", "localhost:*"])


def serve_embedded(port: int, profile_out: Optional[str]) -> None:
    profilers: List[Any] = []
    if profile_out:  # cProfile in every thread, each with its own CPU clock
        import cProfile

        original_run = threading.Thread.run

        def profiled_run(self: threading.Thread) -> None:
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            try:
                original_run(self)
            finally:
                profiler.disable()
                profilers.append(profiler)

        threading.Thread.run = profiled_run  # type: ignore[method-assign]
    syncmcp_server().run_http("127.0.0.1", port)
    if profile_out:
        import pstats

        threading.Thread.run = original_run  # type: ignore[method-assign]
        for thread in threading.enumerate():  # connection threads end when their socket closes
            if thread is not threading.current_thread():
                thread.join(5.0)
        pstats.Stats(*profilers).dump_stats(profile_out)


def serve_official(port: int) -> None:
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bench-serve", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    server.run("streamable-http", host="127.0.0.1", port=port, stateless_http=True, json_response=True)


def server_pids(pid: int) -> List[int]:
    """``pid`` and its children (gunicorn's workers)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    if int(stat.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        children.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return [pid, *children]


class ServerProcess(BenchServerProcess):
    """One server under test (its own process group), killed and reaped by ``stop``."""

    def __init__(self, kind: str, peers_python: str, folder: str, era: str, profile_out: Optional[str] = None) -> None:
        self.kind = kind
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.log_path = os.path.join(folder, f"server-{kind}.log")
        env = dict(os.environ, SYNCMCP_SERVER_SECRET=secrets.token_hex(32), PYTHONPATH=str(ROOT))
        me = str(Path(__file__).resolve())
        if kind == "raw":
            argv = [sys.executable, str(TOOLS / "bench_http_server.py"), "--port", str(port)]
        elif kind == "embedded":
            argv = [sys.executable, me, "--serve", "embedded", "--port", str(port)]
            argv += ["--profile-out", profile_out] if profile_out else []
        elif kind == "gunicorn":
            argv = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(GUNICORN_WORKERS), "-k", "gthread"]
            argv += ["--threads", str(GUNICORN_THREADS), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
            argv += ["--chdir", str(TOOLS), "bench_http_serve:gunicorn_app()"]
        elif kind == "official":
            argv = [peers_python, me, "--serve", "official", "--port", str(port)]
        else:
            raise ValueError(f"unknown server {kind!r}")
        self.spawn(argv, env)
        try:
            self.wait_ready(lambda: Client(self.url, era).connection().call(), 60.0, self.url)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)


# ----------------------------------------------------------------------------- the client


class Client:
    """What every connection of one client shares: the address, the era, the session, request ids."""

    def __init__(self, url: str, era: str) -> None:
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        self.host, self.port = host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1])
        self.path = "/" + url.split("//", 1)[1].split("/", 1)[1]
        self.era = era
        self.ids = iter(range(1, 1 << 62))
        self.session_id: Optional[str] = None
        self.handshaken = era == "modern"

    def head(self, headers: str) -> bytes:
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\n{headers}Content-Length: "
        ).encode()

    def call_request(self) -> Tuple[int, bytes]:
        rid = next(self.ids)
        params: Dict[str, Any] = {"name": "echo", "arguments": {"text": TEXT}}
        if self.era == "modern":
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
            }
            headers = f"MCP-Protocol-Version: {MODERN}\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\n"
        else:
            headers = f"MCP-Protocol-Version: {LEGACY}\r\n"
            headers += f"Mcp-Session-Id: {self.session_id}\r\n" if self.session_id else ""
        body = ENC({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}).encode()
        return rid, b"%s%d\r\n\r\n%s" % (self.head(headers), len(body), body)

    def connection(self) -> Connection:
        conn = Connection(self)
        if not self.handshaken:
            body = ENC(
                {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": CLIENT_INFO},
                }
            ).encode()
            status, head, answer = conn.exchange(b"%s%d\r\n\r\n%s" % (self.head(""), len(body), body))
            if status != 200 or "result" not in jsonrpc_answer(head, answer, 0):
                raise RuntimeError(f"initialize: HTTP {status}: {answer[:300]!r}")
            at = head.find(b"\r\nmcp-session-id:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                self.session_id = head[at + 17 : stop if stop >= 0 else len(head)].strip().decode()
            extra = f"MCP-Protocol-Version: {LEGACY}\r\n" + (f"Mcp-Session-Id: {self.session_id}\r\n" if self.session_id else "")
            body = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
            status = conn.exchange(b"%s%d\r\n\r\n%s" % (self.head(extra), len(body), body))[0]
            if status not in (200, 202):
                raise RuntimeError(f"notifications/initialized: HTTP {status}")
            self.handshaken = True
        return conn


class Connection:
    """One HTTP connection, reopened when the server closes it (HTTP/1.0, ``Connection: close``)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.sock: Optional[socket.socket] = None
        self.buf = b""
        self.connects = 0

    def exchange(self, request: bytes) -> Tuple[int, bytes, bytes]:
        """(status, lowercased head, body); one retry on a fresh connection if a kept one was closed."""
        for attempt in (0, 1):
            reused = self.sock is not None
            if self.sock is None:
                self.sock = socket.create_connection((self.client.host, self.client.port))
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.buf = b""
                self.connects += 1
            try:
                self.sock.sendall(request)
                while True:
                    parsed = parse_response(self.buf) if self.buf else None
                    if parsed is not None:
                        break
                    data = self.sock.recv(65536)
                    if not data:
                        raise ConnectionResetError("the server closed the connection")
                    self.buf += data
            except OSError:
                self.close()
                if reused and attempt == 0 and not self.buf:
                    continue
                raise
            status, head, body, used = parsed
            self.buf = self.buf[used:]
            if b"\r\nconnection: close" in head or (head.startswith(b"http/1.0") and b"keep-alive" not in head):
                self.close()
            return status, head, body
        raise AssertionError("unreachable")

    def call(self) -> None:
        rid, request = self.client.call_request()
        status, head, body = self.exchange(request)
        if status != 200:
            raise RuntimeError(f"tools/call: HTTP {status}: {body[:300]!r}")
        answer = jsonrpc_answer(head, body, rid)
        if answer.get("result", {}).get("content", [{}])[0].get("text") != TEXT:
            raise RuntimeError(f"tools/call: unexpected answer {answer}")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Meter:
    """Wall time, this process's CPU time and the server's (all its processes) over a timed loop."""

    def __init__(self, pids: List[int]) -> None:
        self.clocks = [ProcessClock(pid) for pid in pids]

    def server_seconds(self) -> Optional[float]:
        values = [clock.seconds() for clock in self.clocks]
        return None if None in values else sum(v for v in values if v is not None)

    def __enter__(self) -> Meter:
        self.server0, self.cpu0, self.wall0 = self.server_seconds(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        server1 = self.server_seconds()
        self.server = None if server1 is None or self.server0 is None else server1 - self.server0

    def figures(self, calls: int) -> Dict[str, Any]:
        out = {"n": calls, "calls_per_s": round(calls / self.wall, 1), "client_cpu_us": round(self.cpu / calls * 1e6, 1)}
        if self.server is not None:
            out.update(server_cpu_us=round(self.server / calls * 1e6, 1), server_util=round(self.server / self.wall, 2))
        return out


def run_case(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One case against one server, in this (fresh) process."""
    client = Client(spec["url"], spec["era"])
    clock = time.perf_counter_ns
    if spec["case"] == "seq":
        conn = client.connection()
        for _ in range(WARMUP):
            conn.call()
        latencies = []
        connects = conn.connects
        with Meter(spec["pids"]) as meter:
            for _ in range(CALLS):
                started = clock()
                conn.call()
                latencies.append(clock() - started)
        conn.close()
        return {**latency_figures(latencies), **meter.figures(CALLS), "connects": conn.connects - connects}
    conns = [client.connection() for _ in range(INFLIGHT)]
    per_thread = CALLS // INFLIGHT
    results: List[List[int]] = [[] for _ in conns]
    errors: List[BaseException] = []
    start = threading.Barrier(INFLIGHT + 1)
    done = threading.Barrier(INFLIGHT + 1)

    def work(conn: Connection, out: List[int]) -> None:
        try:
            for _ in range(max(1, WARMUP // INFLIGHT)):
                conn.call()
            start.wait()
            for _ in range(per_thread):
                started = clock()
                conn.call()
                out.append(clock() - started)
        except BaseException as exc:
            errors.append(exc)
            start.abort()
        finally:
            with contextlib.suppress(threading.BrokenBarrierError):
                done.wait()

    threads = [threading.Thread(target=work, args=(c, r)) for c, r in zip(conns, results)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait()
    with Meter(spec["pids"]) as meter, contextlib.suppress(threading.BrokenBarrierError):
        done.wait()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    latencies = [value for out in results for value in out]
    figures = {**meter.figures(len(latencies)), **latency_figures(latencies)}
    return {**figures, "connects": sum(c.connects for c in conns)}


def run_worker(spec: Dict[str, Any], timeout: float = 600) -> Dict[str, Any]:
    """One case in a fresh interpreter; its JSON record (or an error record). The child is always reaped."""
    out, err, code = run_fresh([sys.executable, str(Path(__file__).resolve()), "--client", json.dumps(spec)], timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": f"exit {code}: {err[-1500:]}"}


# ----------------------------------------------------------------------------- orchestration and tables


def placement() -> str:
    cpus = len(os.sched_getaffinity(0))
    return f"pinned{cpus}" if cpus < (os.cpu_count() or cpus) else "unpinned"


def collect(options: argparse.Namespace) -> List[Dict[str, Any]]:
    records: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_http_serve-") as folder, contextlib.ExitStack() as stack:
        out = stack.enter_context(open(options.out, "a")) if options.out else None
        servers: Dict[str, ServerProcess] = {}
        stack.callback(lambda: [server.stop() for server in servers.values()])
        for kind in options.servers:
            servers[kind] = ServerProcess(kind, options.peers_python, folder, options.era)
        kinds = list(servers)
        for run in range(1, options.runs + 1):
            shift = (run - 1) % len(kinds)
            for case in options.cases:
                for kind in kinds[shift:] + kinds[:shift]:
                    server = servers[kind]
                    spec = {"url": server.url, "era": options.era, "case": case, "pids": server_pids(server.process.pid)}
                    started = time.time()
                    record = run_worker(spec)
                    record.update(server=kind, case=case, run=run, era=options.era, placement=placement())
                    emit(record, records, out)
                    status = "ERROR " + record["error"] if "error" in record else "ok"
                    print(f"# run {run} {case:7} {kind:9} {time.time() - started:5.1f}s {status}", file=sys.stderr, flush=True)
                    if server.process.poll() is not None:
                        raise RuntimeError(f"the {kind} server died:\n{server.log()}")
    return records


COLUMNS = {
    "seq": ("p50_us", "lower", [("p50_us", "p50 µs"), ("p90_us", "p90 µs"), ("p99_us", "p99 µs"), ("calls_per_s", "calls/s")]),
    "conc_8": ("calls_per_s", "higher", [("calls_per_s", "calls/s"), ("p50_us", "p50 µs"), ("p99_us", "p99 µs")]),
}
CPU_COLUMNS = [("server_cpu_us", "srv CPU µs"), ("server_util", "srv util"), ("client_cpu_us", "cli CPU µs")]
TITLES = {
    "seq": "seq: {n} sequential calls, one thread (ratios on p50)",
    "conc_8": "conc_8: {n} calls from 8 threads (ratios on calls/s)",
}
DESCRIPTIONS = {
    "raw": "raw stdlib sockets (the limit)",
    "embedded": "embedded `run_http`",
    "gunicorn": f"gunicorn {GUNICORN_WORKERS} workers, gthread({GUNICORN_THREADS})",
    "official": "official SDK (uvicorn)",
}


def tables(records: List[Dict[str, Any]]) -> str:
    by_run: Dict[Tuple[str, str, str, str], Dict[int, Dict[str, Any]]] = collections.defaultdict(dict)
    for record in records:
        if "error" not in record:
            by_run[(record["placement"], record["era"], record["case"], record["server"])][record["run"]] = record
    lines: List[str] = []
    for where, era, case in sorted(
        {key[:3] for key in by_run}, key=lambda k: (k[0] != "unpinned", k[0], k[1], CASES.index(k[2]))
    ):
        metric, better, columns = COLUMNS[case]
        columns = columns + CPU_COLUMNS
        kinds = [kind for kind in SERVERS if (where, era, case, kind) in by_run]
        refs = [
            (ref, title)
            for ref, title in (("raw", "\u00d7raw"), ("embedded", "\u00d7embedded"), ("official", "\u00d7SDK"))
            if ref in kinds
        ]
        runs = max(len(by_run[(where, era, case, kind)]) for kind in kinds)
        counts = sorted({r["n"] for kind in kinds for r in by_run[(where, era, case, kind)].values()})
        lines.append(f"\n{TITLES[case].format(n='/'.join(map(str, counts)))}; {era} era, {where}, {runs} run(s)\n")
        lines.append("| server | " + " | ".join(t for _m, t in columns) + " | " + " | ".join(t for _r, t in refs) + " |")
        lines.append("|---|" + "---:|" * (len(columns) + len(refs)))
        for kind in kinds:
            per_run = by_run[(where, era, case, kind)]
            cells = median_cells(per_run, [m for m, _t in columns])
            for ref, _title in refs:
                cells.append(ratio_cell(per_run, {} if kind == ref else by_run[(where, era, case, ref)], metric, better))
            lines.append(f"| {DESCRIPTIONS[kind]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- profile


def profile(options: argparse.Namespace) -> int:
    import pstats

    calls = options.profile
    with tempfile.TemporaryDirectory(prefix="bench_http_serve-") as folder:
        out = os.path.join(folder, "server.prof")
        server = ServerProcess("embedded", options.peers_python, folder, options.era, profile_out=out)
        try:
            conn = Client(server.url, options.era).connection()
            for _ in range(WARMUP):
                conn.call()
            with Meter(server_pids(server.process.pid)) as meter:
                for _ in range(calls):
                    conn.call()
            conn.close()
        finally:
            server.stop(60.0)
        if not os.path.exists(out):
            raise RuntimeError(f"the server wrote no profile:\n{server.log()}")
        stats = pstats.Stats(out)
    figures = meter.figures(calls)
    print(
        f"# embedded server, {calls} sequential {options.era} calls under cProfile (every thread, CPU clock): "
        f"{1e6 / figures['calls_per_s']:.0f} µs/call wall, server CPU {figures.get('server_cpu_us')} µs/call; "
        f"times below are per call (the handshake, warm-up and shutdown are included, a few %)"
    )
    entries = []
    by_group: Dict[str, float] = collections.defaultdict(float)
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        entries.append((f"{_short(filename)}:{line}({name})" if line else name, ncalls, tottime, cumtime))
        by_group[_short(filename) if filename != "~" else "built-in " + name.split(" of ")[-1].split(" ")[0].strip("'<>")] += (
            tottime
        )
    total = sum(by_group.values())
    print(f"\nown time by file: µs/call, share (profiled total {total / calls * 1e6:.0f} µs/call)")
    for group, seconds in sorted(by_group.items(), key=lambda item: -item[1])[: options.top]:
        print(f"{seconds / calls * 1e6:9.1f} {seconds / total:6.1%}  {group}")
    for title, index in (("own time (tottime)", 2), ("cumulative time (cumtime)", 3)):
        print(f"\n{title}: µs/call, share, calls/call, function")
        for where, ncalls, tottime, cumtime in sorted(entries, key=lambda e: -e[index])[: options.top]:
            value = tottime if index == 2 else cumtime
            print(f"{value / calls * 1e6:9.1f} {value / total:6.1%} {ncalls / calls:7.2f}  {where}")
    return 0


def _short(filename: str) -> str:
    parts = Path(filename).parts
    if "syncmcp" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("syncmcp") :])
    return ("stdlib " if "site-packages" not in parts else "") + "/".join(parts[-2:])


# ----------------------------------------------------------------------------- main


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=("embedded", "official"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated, of: {', '.join(SERVERS)}")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--era", choices=("modern", "legacy"), default="modern", help="what the client speaks")
    add_run_options(parser, "a Python with the official mcp package")
    parser.add_argument("--profile", type=int, metavar="N", help="profile the embedded server over N sequential calls")
    parser.add_argument("--top", type=int, default=25, help="functions listed by --profile")
    options = parser.parse_args(argv)
    if options.serve == "embedded":
        serve_embedded(options.port, options.profile_out)
        return 0
    if options.serve == "official":
        serve_official(options.port)
        return 0
    if options.client:
        try:
            print(json.dumps(run_case(json.loads(options.client))), flush=True)
        except Exception as exc:
            print(json.dumps({"error": repr(exc)[:500]}), flush=True)
            return 1
        return 0
    if options.from_file:
        with open(options.from_file) as records:
            print(tables([json.loads(line) for line in records if line.strip()]))
        return 0
    options.servers = [s for s in options.servers.split(",") if s]
    options.cases = [c for c in options.cases.split(",") if c]
    for values, known, what in ((options.servers, SERVERS, "server"), (options.cases, CASES, "case")):
        if any(v not in known for v in values):
            parser.error(f"unknown {what} in {','.join(values)}")
    if options.pin:
        os.sched_setaffinity(0, {0})  # inherited by every child: the servers and each client
    for signum in (signal.SIGTERM, signal.SIGHUP):  # unwind like Ctrl-C, so every child is stopped
        signal.signal(signum, signal.default_int_handler)
    try:
        if options.profile:
            return profile(options)
        records = collect(options)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(tables(records))
    return 1 if any("error" in record for record in records) else 0


if __name__ == "__main__":
    sys.exit(main())
