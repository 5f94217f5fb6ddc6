#!/usr/bin/env python3
"""Benchmark MCPManager: parallel start-up, list_all_tools over 5000 tools, idle CPU.

    .venv/bin/python tools/bench_manager.py [--rounds 3] [--json] [--real]

Cases (every server is tools/example_server.py, stdlib only, unless --real):

* ``startup_mixed``: 10 servers whose handshakes take 0.1 .. 1.0 s (``--init-delay``, as a
  server doing a network lookup or a package download would), started together, against the
  slowest of them started alone. Target: ratio <= 1.1.
* ``startup_uniform``: 10 identical fast servers; their start-up is CPU (a Python interpreter
  each), so on a machine with fewer cores than servers the ratio shows the core count, not the
  manager.
* ``startup_real`` (--real): 10 npm server-memory processes, the same caveat, bigger.
* ``list_all_tools``: 10 servers x 500 tools (``--tools 497``): the cold call from the disk cache
  (a lazy manager, no server running: the whole 5000-name map is built) and the warm call.
  Target <= 5 ms.
* ``idle_cpu``: this process's CPU time (``/proc/self/stat``) while a manager with 10 ready
  servers sits idle for a few seconds. Target: 0 ticks (no polling).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(ROOT))

import syncmcp  # noqa: E402

EXAMPLE = str(TOOLS / "example_server.py")


def example(*flags: str) -> Dict[str, Any]:
    return {"command": sys.executable, "args": [EXAMPLE, *flags], "startup_timeout_sec": 60}


def time_startup(servers: Dict[str, Any]) -> float:
    """Seconds from constructing a manager until every server is ready."""
    started = time.perf_counter()
    with syncmcp.MCPManager(servers, shutdown_grace=0.5) as manager:
        assert manager.wait_for_startup(120)
        elapsed = time.perf_counter() - started
        bad = [name for name, status in manager.startup_status().items() if not status.ready]
        assert not bad, f"not ready: {bad}"
    return elapsed


INIT = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}) + "\n").encode()


def raw_floor(servers: Dict[str, Any]) -> float:
    """The same children spawned with bare Popen, one initialize each, no manager: the machine's floor."""
    started = time.perf_counter()
    children = [
        subprocess.Popen([config["command"], *config["args"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **config.get("env", {})})
        for config in servers.values()
    ]
    for child in children:
        assert child.stdin is not None
        child.stdin.write(INIT)
        child.stdin.flush()
    for child in children:
        assert child.stdout is not None
        child.stdout.readline()
    elapsed = time.perf_counter() - started
    for child in children:
        child.kill()
        child.wait()
    return elapsed


def startup_case(servers: Dict[str, Any], rounds: int) -> Dict[str, float]:
    singles = []
    together = []
    floors = []
    for _ in range(rounds):
        singles.append(max(time_startup({name: config}) for name, config in servers.items()))
        together.append(time_startup(servers))
        floors.append(raw_floor(servers))
    slowest, parallel, floor = statistics.median(singles), statistics.median(together), statistics.median(floors)
    return {"slowest_single_s": slowest, "parallel_s": parallel, "ratio": parallel / slowest, "raw_floor_s": floor, "floor_ratio": floor / slowest}


def list_case(rounds: int) -> Dict[str, float]:
    servers = {f"srv{i}": example("--tools", "497") for i in range(10)}
    with tempfile.TemporaryDirectory() as cache:
        with syncmcp.MCPManager(servers, tool_cache=cache, shutdown_grace=0.5) as manager:
            tools = manager.list_all_tools()
            assert len(tools) == 5000, len(tools)
            warm = []
            for _ in range(200):
                started = time.perf_counter()
                manager.list_all_tools()
                warm.append(time.perf_counter() - started)
        cold = []
        for _ in range(max(rounds, 5)):
            with syncmcp.MCPManager(servers, tool_cache=cache, lazy=True) as manager:  # nothing is started
                started = time.perf_counter()
                tools = manager.list_all_tools()
                cold.append(time.perf_counter() - started)
                assert len(tools) == 5000
                assert all(s.state == "pending" for s in manager.startup_status().values())
    return {"cold_from_disk_cache_ms": statistics.median(cold) * 1e3, "warm_ms": statistics.median(warm) * 1e3, "tools": 5000}


def cpu_ticks() -> int:
    with open("/proc/self/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def idle_case(seconds: float) -> Dict[str, Any]:
    servers = {f"srv{i}": example("--tools", "497") for i in range(10)}
    with syncmcp.MCPManager(servers, shutdown_grace=0.5) as manager:
        assert manager.wait_for_startup(60)
        manager.list_all_tools()
        time.sleep(0.5)  # let start-up work settle
        before = cpu_ticks()
        time.sleep(seconds)
        ticks = cpu_ticks() - before
        threads = sorted({t.name.split("_")[0].split("[")[0] for t in __import__("threading").enumerate()})
    return {"seconds": seconds, "cpu_ticks": ticks, "ticks_per_second": os.sysconf("SC_CLK_TCK"), "thread_kinds": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle measurement")
    parser.add_argument("--real", action="store_true", help="also start 10 npm server-memory processes")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    results: Dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    delays: List[str] = [f"{0.1 * (i + 1):.1f}" for i in range(10)]
    results["startup_mixed"] = startup_case({f"srv{i}": example("--init-delay", d) for i, d in enumerate(delays)}, options.rounds)
    results["startup_uniform"] = startup_case({f"srv{i}": example() for i in range(10)}, options.rounds)
    if options.real:
        script = ROOT / ".peers" / "npm" / "node_modules" / "@modelcontextprotocol" / "server-memory" / "dist" / "index.js"
        with tempfile.TemporaryDirectory() as tmp:
            servers = {
                f"mem{i}": {"command": "node", "args": [str(script)], "env": {"MEMORY_FILE_PATH": f"{tmp}/{i}.jsonl"}, "startup_timeout_sec": 60}
                for i in range(10)
            }
            results["startup_real"] = startup_case(servers, options.rounds)
    results["list_all_tools"] = list_case(options.rounds)
    results["idle_cpu"] = idle_case(options.idle)
    if options.json:
        print(json.dumps(results, indent=2))
        return
    print(f"machine: {results['cpus']} CPUs, Python {results['python']}")
    for case in ("startup_mixed", "startup_uniform", "startup_real"):
        if case in results:
            r = results[case]
            print(
                f"{case:16s} slowest alone {r['slowest_single_s']:.3f} s, 10 together {r['parallel_s']:.3f} s, ratio {r['ratio']:.2f}"
                f" (bare Popen of the same 10, no manager: {r['raw_floor_s']:.3f} s, ratio {r['floor_ratio']:.2f})"
            )
    r = results["list_all_tools"]
    print(f"list_all_tools   5000 tools: cold from disk cache {r['cold_from_disk_cache_ms']:.2f} ms, warm {r['warm_ms']:.3f} ms")
    r = results["idle_cpu"]
    print(f"idle_cpu         {r['cpu_ticks']} ticks in {r['seconds']:g} s (1 tick = 1/{r['ticks_per_second']} s); threads: {', '.join(r['thread_kinds'])}")


if __name__ == "__main__":
    main()
