#!/usr/bin/env python3
"""Soak test: many calls over one session, watching the client's (and server's) resources stay flat.

    .venv/bin/python tools/soak.py                            # 1,000,000 stdio + 100,000 HTTP calls
    .venv/bin/python tools/soak.py --calls 200000 --http-calls 0 --threads 8
    BENCH_SCALE=0.01 .venv/bin/python tools/soak.py           # a quick run (10,000 + 1,000 calls)
    .venv/bin/python tools/soak.py --json                     # also one JSON object per phase

Two phases, each one session used by ``--threads`` threads (default 4) at once:

* ``stdio``: ``--calls`` ``tools/call`` of ``echo`` over one stdio session to a syncmcp
  ``Server`` (this script with ``--serve stdio``: ``Server.run_stdio``);
* ``http``: ``--http-calls`` over one Streamable HTTP session (``syncmcp.connect_http``, era
  found by ``server/discover``) to the same server behind ``Server.run_http`` (this script with
  ``--serve http``) on 127.0.0.1.

Every call echoes a payload unique to it and the answer is checked. The calls run in
``--samples`` equal batches (default 40); between two batches every thread is parked on a
barrier (nothing in flight) and the client and server processes are sampled: RSS
(``/proc/PID/status`` ``VmRSS``), threads (``Threads``) and open descriptors (``/proc/PID/fd``).

**Flat**, per metric and process: the first ``--warmup`` fraction of the samples (default 0.1:
caches, thread pools, connection pools, allocator arenas filling) is left out; of the rest, the
maximum over the last quarter must not exceed the maximum over the first quarter by more than
the slack: RSS 5 % + 1 MiB, threads 1, descriptors 2 (a keep-alive connection being replaced).
A metric that grows only slowly still shows in ``growth``: the least-squares slope over the
samples after warm-up, per 100,000 calls (RSS in KiB). The verdict line says ``flat`` or
``GROWING``; the exit status is 1 if anything grew (or a call failed), else 0.

The server is killed with its process group on exit (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
METRICS = ("rss", "threads", "fds")
#: Allowed growth of the last quarter's maximum over the first quarter's: (relative, absolute).
SLACK = {"rss": (0.05, 1 << 20), "threads": (0.0, 1), "fds": (0.0, 2)}


# ----------------------------------------------------------------------------- the server


def make_server() -> Any:
    from syncmcp.server import Server

    server = Server("soak")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    return server


def serve(kind: str) -> None:
    server = make_server()
    if kind == "stdio":
        server.run_stdio()
        return

    def ready(host: str, port: int) -> None:
        print(f"LISTENING {port}", flush=True)

    server.run_http("127.0.0.1", 0, on_ready=ready)


# ----------------------------------------------------------------------------- sampling


def proc_sample(pid: int) -> Dict[str, int]:
    """RSS (bytes), threads and open descriptors of a process, from /proc."""
    values = {"rss": 0, "threads": 0, "fds": 0}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                values["rss"] = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                values["threads"] = int(line.split()[1])
    values["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return values


@dataclass
class Sample:
    calls: int
    elapsed: float
    client: Dict[str, int]
    server: Dict[str, int]


@dataclass
class Verdict:
    process: str
    metric: str
    first: int
    last: int
    limit: float
    slope: float  # per 100,000 calls
    flat: bool


@dataclass
class Phase:
    name: str
    calls: int
    threads: int
    samples: List[Sample] = field(default_factory=list)
    failures: List[str] = field(default_factory=list)  # the first few
    failed: int = 0
    seconds: float = 0.0

    def verdicts(self, warmup: float) -> List[Verdict]:
        kept = self.samples[min(len(self.samples) - 4, int(len(self.samples) * warmup)):]
        quarter = max(1, len(kept) // 4)
        verdicts = []
        for process in ("client", "server"):
            for metric in METRICS:
                values = [getattr(s, process)[metric] for s in kept]
                first, last = max(values[:quarter]), max(values[-quarter:])
                relative, absolute = SLACK[metric]
                limit = first * (1 + relative) + absolute
                slope = _slope([s.calls for s in kept], values) * 100_000
                verdicts.append(Verdict(process, metric, first, last, limit, slope, last <= limit))
        return verdicts


def _slope(xs: List[int], ys: List[int]) -> float:
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var if var else 0.0


# ----------------------------------------------------------------------------- running a phase


def run_phase(name: str, call: Callable[[str], str], server_pid: int, calls: int, threads: int, samples: int) -> Phase:
    """``calls`` calls of ``call(text) -> text`` from ``threads`` threads, sampled between batches."""
    phase = Phase(name, calls, threads)
    batches = max(4, min(samples, calls // max(1, threads)))
    per_thread = [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]
    barrier = threading.Barrier(threads + 1)
    lock = threading.Lock()
    done = [0]

    def work(index: int) -> None:
        mine = per_thread[index]
        made = 0
        for batch in range(batches):
            goal = mine * (batch + 1) // batches
            ok = 0
            while made < goal:
                text = f"{name}:{index}:{made}"
                try:
                    answer = call(text)
                except Exception as exc:  # recorded; the soak goes on
                    answer = f"{type(exc).__name__}: {exc}"
                if answer != text:
                    with lock:
                        phase.failed += 1
                        if len(phase.failures) < 20:
                            phase.failures.append(f"sent {text!r}, got {answer!r}")
                ok += 1
                made += 1
            with lock:
                done[0] += ok
            try:
                barrier.wait()  # batch done: the main thread samples
                barrier.wait()  # sampled: go on
            except threading.BrokenBarrierError:
                return

    workers = [threading.Thread(target=work, args=(i,), name=f"soak-{i}", daemon=True) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    me = os.getpid()
    for _ in range(batches):
        barrier.wait()
        phase.samples.append(Sample(done[0], time.monotonic() - started, proc_sample(me), proc_sample(server_pid)))
        print(_row(phase.samples[-1]), flush=True)
        barrier.wait()
    phase.seconds = time.monotonic() - started
    for worker in workers:
        worker.join()
    return phase


def _row(sample: Sample) -> str:
    c, s = sample.client, sample.server
    return (
        f"{sample.calls:>10,} {sample.elapsed:>8.1f} {sample.calls / max(sample.elapsed, 1e-9):>8,.0f}"
        f" | {c['rss'] / 2**20:>8.1f} {c['threads']:>4} {c['fds']:>4}"
        f" | {s['rss'] / 2**20:>8.1f} {s['threads']:>4} {s['fds']:>4}"
    )


HEADER = (
    f"{'calls':>10} {'seconds':>8} {'calls/s':>8} | {'cli MiB':>8} {'thr':>4} {'fds':>4} | {'srv MiB':>8} {'thr':>4} {'fds':>4}"
)


def report(phase: Phase, warmup: float) -> Tuple[bool, Dict[str, Any]]:
    verdicts = phase.verdicts(warmup)
    print(f"\n{phase.name}: {phase.calls:,} calls on {phase.threads} threads in {phase.seconds:.1f} s "
          f"({phase.calls / phase.seconds:,.0f}/s), {phase.failed} failed")
    print(f"{'process':<8} {'metric':<8} {'first-q max':>12} {'last-q max':>12} {'limit':>12} {'growth/100k':>12}  verdict")
    for v in verdicts:
        scale = (1 / 2**20) if v.metric == "rss" else 1
        unit = " MiB" if v.metric == "rss" else ""
        growth = f"{v.slope / 1024:+.1f} KiB" if v.metric == "rss" else f"{v.slope:+.2f}"
        print(f"{v.process:<8} {v.metric:<8} {v.first * scale:>8.1f}{unit:<4} {v.last * scale:>8.1f}{unit:<4} "
              f"{v.limit * scale:>8.1f}{unit:<4} {growth:>12}  {'flat' if v.flat else 'GROWING'}")
    for failure in phase.failures[:5]:
        print(f"  failed: {failure}")
    ok = all(v.flat for v in verdicts) and not phase.failed
    record = {
        "phase": phase.name,
        "calls": phase.calls,
        "threads": phase.threads,
        "seconds": round(phase.seconds, 2),
        "failures": phase.failed,
        "verdicts": [vars(v) for v in verdicts],
        "samples": [vars(s) for s in phase.samples],
    }
    return ok, record


# ----------------------------------------------------------------------------- the phases


def _spawn_env() -> Dict[str, str]:
    return {"PYTHONPATH": str(ROOT)}


def stdio_phase(calls: int, threads: int, samples: int) -> Phase:
    import syncmcp

    with syncmcp.connect(sys.executable, [__file__, "--serve", "stdio"], env=_spawn_env(), name="soak-stdio") as session:
        pid = session.transport.pid  # type: ignore[attr-defined]

        def call(text: str) -> str:
            return session.call_tool("echo", {"text": text}).text

        return run_phase("stdio", call, pid, calls, threads, samples)


def http_phase(calls: int, threads: int, samples: int) -> Phase:
    import syncmcp

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "http"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env={**os.environ, **_spawn_env()},
        start_new_session=True,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("LISTENING "):
            raise SystemExit(f"the HTTP server did not start: {line!r}")
        url = f"http://127.0.0.1:{int(line.split()[1])}/mcp"
        with syncmcp.connect_http(url, name="soak-http") as session:

            def call(text: str) -> str:
                return session.call_tool("echo", {"text": text}).text

            return run_phase("http", call, server.pid, calls, threads, samples)
    finally:
        _stop(server)


def _stop(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except (OSError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=max(100, round(1_000_000 * SCALE)), help="stdio calls (0: skip)")
    parser.add_argument("--http-calls", type=int, default=max(100, round(100_000 * SCALE)), help="HTTP calls (0: skip)")
    parser.add_argument("--threads", type=int, default=4, help="threads sharing the session")
    parser.add_argument("--samples", type=int, default=40, help="batches (one sample after each)")
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of the samples left out as warm-up")
    parser.add_argument("--json", action="store_true", help="print one JSON record per phase at the end")
    parser.add_argument("--serve", choices=["stdio", "http"], help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.serve:
        serve(options.serve)
        return 0
    if options.samples < 8:
        parser.error("--samples must be at least 8")
    records = []
    healthy = True
    for name, count, run in (("stdio", options.calls, stdio_phase), ("http", options.http_calls, http_phase)):
        if count <= 0:
            continue
        print(f"\n== {name}: {count:,} calls, {options.threads} threads, {options.samples} samples\n{HEADER}", flush=True)
        ok, record = report(run(count, options.threads, options.samples), options.warmup)
        healthy = healthy and ok
        records.append(record)
    print(f"\nverdict: {'flat' if healthy else 'NOT FLAT (see GROWING / failed above)'}")
    if options.json:
        for record in records:
            print(json.dumps(record))
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
