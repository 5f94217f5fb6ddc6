#!/usr/bin/env python3
"""Benchmark syncmcp against the raw-pipe floor, the thread-based limit and the official ``mcp`` SDK, in one run.

    .venv/bin/python tools/bench.py [--quick] [--pin] [--official-python .peers/venv/bin/python] [--json]
    .venv/bin/python tools/bench.py --profile [--pin] [-n 5000]     # where syncmcp's time goes
    .venv/bin/python tools/bench.py --worker threaded --limit-work 16 --pin   # the limit, 16 µs of CPU more per call

Every client talks to the same stdlib server (tools/example_server.py) in its own process, so
start-up, import time and peak RSS are measured per client. Cases:

* ``seq``: sequential ``tools/call`` latency (p50, p99) of a small echo.
* ``inflight8``: throughput with 8 requests in flight (8 threads; 8 tasks for the official SDK;
  one pipelined loop for the raw floor).
* ``blob1m`` / ``blob10m``: round trip of a 1 MB and a 10 MB tool result (median seconds);
  their ratio shows whether cost is linear in size.
* ``list500``: ``tools/list`` returning 500 tools (median milliseconds); for syncmcp the typed
  ``list_tools(refresh=True)``, and also the untyped ``session.request("tools/list")``.
* ``import``: the client library's import time, ``rss``: peak RSS (MB) after connecting one
  server and running the small cases (before the blob cases).

The raw floor is a no-threads loop with ``json`` on the same pipes: the best any client can do.
The thread-based limit is the least a client of syncmcp's shape needs: the same wire code, one
reader thread per connection that settles a table of pending requests, and per request a lock
that the reader releases; callers block on it (8 threads share the connection in ``inflight8``).
``manager_added_us`` is what ``MCPManager.call_tool`` adds to the p50 of the session's own
``call_tool`` (the two interleaved on the same server).

Placement: ``--pin`` puts every process (each client and its server child) on one core
(``os.sched_setaffinity``), so the figures do not depend on how the scheduler spreads them over
the cores; without it, they run where the scheduler likes.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
SERVER = [sys.executable, str(TOOLS / "example_server.py"), "--tools", "497"]
#: Extra CPU seconds the thread-based limit spends per call before writing it (``--limit-work``).
LIMIT_WORK = 0.0


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s() -> float:
    """CPU seconds of this process so far, every thread, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ----------------------------------------------------------------------------- workers


def run_cases(call: Callable[[str, dict], Any], inflight: Callable[[int], float], list_tools: Callable[[], int], n: int) -> Dict[str, Any]:
    for _ in range(200):
        call("echo", {"text": "warm"})
    latencies = []
    cpu = cpu_s()
    for i in range(n):
        start = time.perf_counter()
        call("echo", {"text": f"m{i}"})
        latencies.append(time.perf_counter() - start)
    seq_cpu = (cpu_s() - cpu) / n
    cpu = cpu_s()
    results: Dict[str, Any] = {
        "seq_p50_us": percentile(latencies, 0.50) * 1e6,
        "seq_p99_us": percentile(latencies, 0.99) * 1e6,
        "inflight8_per_s": inflight(n * 2),
        "seq_cpu_us": seq_cpu * 1e6,
        "inflight8_cpu_us": (cpu_s() - cpu) / (n * 2 // 8 * 8) * 1e6,
    }
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        count = list_tools()
        timings.append(time.perf_counter() - start)
    assert count == 500, count
    results["list500_ms"] = statistics.median(timings) * 1e3
    results["rss_mb"] = rss_mb()
    for label, size, repeat in (("blob1m_s", 1_000_000, 7), ("blob10m_s", 10_000_000, 5)):
        timings = []
        for _ in range(repeat):
            start = time.perf_counter()
            call("blob", {"size": size})
            timings.append(time.perf_counter() - start)
        results[label] = statistics.median(timings)
    return results


def worker_syncmcp(n: int) -> Dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import syncmcp

    start = time.perf_counter()
    session = syncmcp.connect(SERVER[0], SERVER[1:], name="bench")
    startup = time.perf_counter() - start
    try:

        def call(name: str, args: dict) -> Any:
            return session.call_tool(name, args, timeout=60)

        def inflight(total: int) -> float:
            per = total // 8

            def loop() -> None:
                for i in range(per):
                    session.call_tool("echo", {"text": f"t{i}"}, timeout=60)

            threads = [threading.Thread(target=loop) for _ in range(8)]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return per * 8 / (time.perf_counter() - start)

        results = run_cases(call, inflight, lambda: len(session.list_tools(refresh=True)), n)
        timings = []
        for _ in range(30):  # the same listing untyped: the request alone, as the raw floor makes it
            start = time.perf_counter()
            count = len(session.request("tools/list")["tools"])
            timings.append(time.perf_counter() - start)
        assert count == 500, count
        results["list500_request_ms"] = statistics.median(timings) * 1e3
    finally:
        session.close()
    results["startup_ms"] = startup * 1e3
    results["manager_added_us"] = manager_p50(n)
    return results


def manager_p50(n: int) -> float:
    """What ``MCPManager.call_tool`` adds to its server's ``ClientSession.call_tool`` (p50 µs).

    The two are interleaved, call by call, on the same server and session, so that a slow spell
    of the machine hits both alike.
    """
    import syncmcp

    with syncmcp.MCPManager({"bench": {"command": SERVER[0], "args": SERVER[1:]}}) as manager:
        echo = next(name for name in manager.list_all_tools() if name.endswith("echo"))
        session = manager._rt.slot("bench").session()  # the manager's own session of that server
        assert session is not None
        for _ in range(200):
            manager.call_tool(echo, {"text": "warm"}, timeout=60)
            session.call_tool("echo", {"text": "warm"}, timeout=60)
        direct, managed = [], []
        for i in range(n):
            start = time.perf_counter()
            session.call_tool("echo", {"text": f"m{i}"}, timeout=60)
            middle = time.perf_counter()
            manager.call_tool(echo, {"text": f"m{i}"}, timeout=60)
            direct.append(middle - start)
            managed.append(time.perf_counter() - middle)
    return (percentile(managed, 0.50) - percentile(direct, 0.50)) * 1e6


def worker_raw(n: int) -> Dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=65536)
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    counter = [0]

    def send(method: str, params: dict) -> int:
        counter[0] += 1
        stdin.write(json.dumps({"jsonrpc": "2.0", "id": counter[0], "method": method, "params": params}, separators=(",", ":")).encode() + b"\n")
        stdin.flush()
        return counter[0]

    def rpc(method: str, params: dict) -> Any:
        send(method, params)
        return json.loads(stdout.readline())["result"]

    rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}})
    stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    stdin.flush()
    startup = time.perf_counter() - start

    def inflight(total: int) -> float:
        start = time.perf_counter()
        sent = received = 0
        while received < total:
            while sent < total and sent - received < 8:
                send("tools/call", {"name": "echo", "arguments": {"text": f"t{sent}"}})
                sent += 1
            json.loads(stdout.readline())
            received += 1
        return total / (time.perf_counter() - start)

    try:
        results = run_cases(lambda name, args: rpc("tools/call", {"name": name, "arguments": args}), inflight,
                            lambda: len(rpc("tools/list", {})["tools"]), n)
    finally:
        stdin.close()
        proc.wait(10)
    results["startup_ms"] = startup * 1e3
    return results


def worker_threaded(n: int) -> Dict[str, Any]:
    """The thread-based limit: raw wire code, one reader thread, a lock per request."""
    start = time.perf_counter()
    proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=65536)
    assert proc.stdin is not None and proc.stdout is not None
    out_fd = proc.stdin.fileno()
    readline = proc.stdout.readline
    encode = json.JSONEncoder(separators=(",", ":")).encode
    table_lock, write_lock = threading.Lock(), threading.Lock()
    pending: Dict[int, List[Any]] = {}  # id -> [lock released by the reader, result]
    ids = itertools.count(1)

    def write(data: bytes) -> None:
        with write_lock:
            view = memoryview(data)
            while view:
                view = view[os.write(out_fd, view):]

    def read_loop() -> None:
        while True:
            line = readline()
            if not line:
                break
            message = json.loads(line)
            with table_lock:
                slot = pending.pop(message.get("id"), None)
            if slot is not None:
                slot[1] = message.get("result")
                slot[0].release()
        with table_lock:
            left = list(pending.values())
            pending.clear()
        for slot in left:
            slot[0].release()

    def rpc(method: str, params: dict) -> Any:
        if LIMIT_WORK:  # a client doing more per call: what is left of the limit with that much CPU
            until = time.thread_time() + LIMIT_WORK
            while time.thread_time() < until:
                pass
        request_id = next(ids)
        lock = threading.Lock()
        lock.acquire()
        slot = [lock, None]
        with table_lock:
            pending[request_id] = slot  # registered before the write
        write(encode({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode() + b"\n")
        if not lock.acquire(timeout=60):
            raise TimeoutError(method)
        return slot[1]

    reader = threading.Thread(target=read_loop, daemon=True)
    reader.start()
    rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "threaded", "version": "0"}})
    write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    startup = time.perf_counter() - start

    def inflight(total: int) -> float:
        per = total // 8

        def loop() -> None:
            for i in range(per):
                rpc("tools/call", {"name": "echo", "arguments": {"text": f"t{i}"}})

        threads = [threading.Thread(target=loop) for _ in range(8)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return per * 8 / (time.perf_counter() - began)

    try:
        results = run_cases(lambda name, args: rpc("tools/call", {"name": name, "arguments": args}), inflight,
                            lambda: len(rpc("tools/list", {})["tools"]), n)
    finally:
        proc.stdin.close()
        proc.wait(10)
        reader.join(10)
    results["startup_ms"] = startup * 1e3
    return results


def worker_official(n: int) -> Dict[str, Any]:
    import anyio
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    results: Dict[str, Any] = {}

    async def main() -> None:
        params = StdioServerParameters(command=SERVER[0], args=SERVER[1:])
        start = time.perf_counter()
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            startup = time.perf_counter() - start
            for _ in range(200):
                await session.call_tool("echo", {"text": "warm"})
            latencies = []
            cpu = cpu_s()
            for i in range(n):
                t0 = time.perf_counter()
                await session.call_tool("echo", {"text": f"m{i}"})
                latencies.append(time.perf_counter() - t0)
            results["seq_cpu_us"] = (cpu_s() - cpu) / n * 1e6
            results["seq_p50_us"] = percentile(latencies, 0.50) * 1e6
            results["seq_p99_us"] = percentile(latencies, 0.99) * 1e6
            total = n * 2
            per = total // 8

            async def loop() -> None:
                for i in range(per):
                    await session.call_tool("echo", {"text": f"t{i}"})

            t0, cpu = time.perf_counter(), cpu_s()
            async with anyio.create_task_group() as group:
                for _ in range(8):
                    group.start_soon(loop)
            results["inflight8_per_s"] = per * 8 / (time.perf_counter() - t0)
            results["inflight8_cpu_us"] = (cpu_s() - cpu) / (per * 8) * 1e6
            timings = []
            for _ in range(30):
                t0 = time.perf_counter()
                listed = await session.list_tools()
                timings.append(time.perf_counter() - t0)
            assert len(listed.tools) == 500
            results["list500_ms"] = statistics.median(timings) * 1e3
            results["rss_mb"] = rss_mb()
            for label, size, repeat in (("blob1m_s", 1_000_000, 7), ("blob10m_s", 10_000_000, 5)):
                timings = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    await session.call_tool("blob", {"size": size})
                    timings.append(time.perf_counter() - t0)
                results[label] = statistics.median(timings)
            results["startup_ms"] = startup * 1e3

    anyio.run(main)
    return results


WORKERS = {"syncmcp": worker_syncmcp, "raw": worker_raw, "threaded": worker_threaded, "official": worker_official}
IMPORTS = {
    "syncmcp": "import syncmcp",
    "raw": "import json, subprocess",
    "threaded": "import json, subprocess, threading",
    "official": "import anyio; from mcp import ClientSession; from mcp.client.stdio import stdio_client",
}


# ----------------------------------------------------------------------------- orchestration


def import_time(python: str, statement: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def best(code: str) -> float:
        times = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run([python, "-c", code], check=True, env=env)
            times.append(time.perf_counter() - start)
        return min(times)

    return max(0.0, best(statement) - best("pass"))


def measure(client: str, python: str, n: int, pin: bool) -> Dict[str, Any]:
    command = [python, __file__, "--worker", client, "-n", str(n), "--limit-work", str(LIMIT_WORK * 1e6)] + (["--pin"] if pin else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{client} worker failed:\n{done.stderr[-3000:]}")
    results = json.loads(done.stdout.strip().splitlines()[-1])
    results["import_s"] = import_time(python, IMPORTS[client])
    return results  # type: ignore[no-any-return]


ROWS = [
    ("seq_p50_us", "sequential p50 (µs)", "lower"),
    ("seq_p99_us", "sequential p99 (µs)", "lower"),
    ("seq_cpu_us", "client CPU per call, seq. (µs)", "lower"),
    ("inflight8_per_s", "8 in flight (calls/s)", "higher"),
    ("inflight8_cpu_us", "client CPU per call, 8 (µs)", "lower"),
    ("blob1m_s", "1 MB result (s)", "lower"),
    ("blob10m_s", "10 MB result (s)", "lower"),
    ("list500_ms", "tools/list, 500 tools (ms)", "lower"),
    ("startup_ms", "spawn + initialize (ms)", "lower"),
    ("import_s", "import time (s)", "lower"),
    ("rss_mb", "peak RSS, one server (MB)", "lower"),
]


def echo_calls(session: Any, count: int) -> None:
    for i in range(count):
        session.call_tool("echo", {"text": f"m{i}"}, timeout=60)


def profile(n: int, pin: bool) -> None:
    """cProfile of syncmcp's sequential and 8-thread ``call_tool``: callers and reader, by own time."""
    import cProfile
    import pstats

    if pin:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sys.path.insert(0, str(ROOT))
    import syncmcp
    from syncmcp import _endpoint

    profiles: List[cProfile.Profile] = []
    read_loop = _endpoint.Endpoint._read_loop

    def profiled(target: Callable[[], None]) -> None:
        profiler = cProfile.Profile()
        profiles.append(profiler)
        profiler.runcall(target)

    _endpoint.Endpoint._read_loop = lambda self: profiled(lambda: read_loop(self))  # type: ignore[method-assign]
    for threads in (1, 8):
        profiles.clear()
        with syncmcp.connect(SERVER[0], SERVER[1:], name="bench") as session:
            for _ in range(200):
                session.call_tool("echo", {"text": "warm"}, timeout=60)

            loop = functools.partial(echo_calls, session, n // threads)
            workers = [threading.Thread(target=profiled, args=(loop,)) for _ in range(threads)]
            start_cpu, start = time.process_time(), time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
        calls = n // threads * threads
        print(f"\n=== {threads} thread(s), {calls} calls: {wall / calls * 1e6:.1f} µs wall and {cpu / calls * 1e6:.1f} µs CPU "
              "per call under the profiler (reader thread included)")
        stats = pstats.Stats(profiles[0])
        for profiler in profiles[1:]:
            stats.add(profiler)
        stats.sort_stats("tottime").print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("-n", type=int, default=3000, help="sequential calls (in-flight case: twice as many)")
    parser.add_argument("--quick", action="store_true", help="fewer calls and one round, for a smoke run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per client (median reported)")
    parser.add_argument("--official-python", default=os.environ.get("SYNCMCP_PEERS_PYTHON", str(ROOT / ".peers/venv/bin/python")),
                        help="a Python with the official mcp package installed")
    parser.add_argument("--pin", action="store_true", help="every process on one core (the first this process may use)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of syncmcp's call_tool instead")
    parser.add_argument("--limit-work", type=float, default=0.0, metavar="US",
                        help="µs of CPU the thread-based limit spends on each call besides its wire work")
    options = parser.parse_args()
    global LIMIT_WORK
    LIMIT_WORK = options.limit_work / 1e6
    if options.profile:
        profile(options.n, options.pin)
        return 0
    if options.worker:
        if options.pin:  # before the server is spawned: the child inherits the affinity
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        print(json.dumps(WORKERS[options.worker](options.n)))
        return 0
    n = 500 if options.quick else options.n
    rounds = 1 if options.quick else options.rounds
    clients = [("raw", sys.executable), ("threaded", sys.executable), ("syncmcp", sys.executable)]
    if Path(options.official_python).exists():
        clients.append(("official", options.official_python))
    else:
        print(f"official SDK not measured: no Python at {options.official_python}", file=sys.stderr)
    # Rounds interleave the clients so that a slow spell of this (shared, virtual) machine hits
    # all of them alike; each figure is the median over the rounds.
    samples: Dict[str, List[Dict[str, Any]]] = {name: [] for name, _ in clients}
    for _ in range(rounds):
        for name, python in clients:
            try:
                samples[name].append(measure(name, python, n, options.pin))
            except RuntimeError as exc:
                print(f"{name} not measured: {exc}", file=sys.stderr)
    figures: Dict[str, Dict[str, Any]] = {
        name: {key: statistics.median(run[key] for run in runs) for key in runs[0]} for name, runs in samples.items() if runs
    }
    if options.json:
        print(json.dumps(figures, indent=2))
        return 0
    official = figures.get("official")
    limit = figures.get("threaded", {})
    print(f"placement: {'every process on one core (--pin)' if options.pin else 'unpinned'}; median of {rounds} round(s)")
    header = (f"{'case':30} {'raw floor':>10} {'thr. limit':>10} {'syncmcp':>10} {'official':>10}"
              f" {'/raw':>7} {'/limit':>7} {'vs official':>12}")
    print(header)
    print("-" * len(header))
    fmt = lambda v: "-" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.3g}")  # noqa: E731
    for key, label, better in ROWS:
        raw = figures["raw"].get(key)
        bound = limit.get(key)
        ours = figures["syncmcp"][key]
        theirs = official.get(key) if official else None
        vs_raw = f"{ours / raw:.2f}x" if raw else "-"
        vs_limit = f"{ours / bound:.2f}x" if bound else "-"
        if theirs:
            vs_official = f"{ours / theirs:.2f}x" if better == "higher" else f"{theirs / ours:.2f}x faster"
        else:
            vs_official = "-"
        print(f"{label:30} {fmt(raw):>10} {fmt(bound):>10} {fmt(ours):>10} {fmt(theirs):>10} {vs_raw:>7} {vs_limit:>7} {vs_official:>12}")
    linear = figures["syncmcp"]["blob10m_s"] / figures["syncmcp"]["blob1m_s"]
    print(f"\n10 MB / 1 MB time ratio (10 = linear): syncmcp {linear:.1f}, raw {figures['raw']['blob10m_s'] / figures['raw']['blob1m_s']:.1f}")
    request_ms = figures["syncmcp"]["list500_request_ms"]
    print(f"tools/list of 500 as session.request (untyped): {request_ms:.2f} ms, {request_ms / figures['raw']['list500_ms']:.2f}x the raw floor")
    print(f"MCPManager.call_tool adds {figures['syncmcp']['manager_added_us']:.1f} µs to the session's call_tool p50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
