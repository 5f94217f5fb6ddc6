"""Observing a manager's servers: health checks, metrics, and the notebook table.

A health check pings the ready servers in parallel on the runtime's fan-out pool (a server found
dead is marked exited, and restarted on next use; one that fails otherwise is marked down, so
its fallbacks take its calls until a later check finds it well) and reports the others with
their state, unpinged. Metrics add each server's process group's memory and CPU (one scan of
the process table for all of them) to the calls, errors, retries, restarts and latencies its
:class:`~syncmcp._managed.ManagedServer` records, and the fallback counters and circuit state
the runtime keeps. Nothing here keeps state: these are functions of the manager's
:class:`~syncmcp._runtime.Runtime`.

Example::

    {name: status.ok for name, status in health_check(runtime, 5.0).items()}
    metrics(runtime)["fs"].latency_p50
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Mapping

from ._display import render_servers
from ._procstat import process_group_usage
from ._runtime import FANOUT_GRACE, Runtime
from ._status import HealthStatus, ServerMetrics, ServerState
from ._toolnames import ToolInfo

__all__ = ["health_check", "metrics", "servers_html"]


def health_check(runtime: Runtime, timeout: float) -> Dict[str, HealthStatus]:
    """Ping every ready server in parallel; see ``MCPManager.health_check``."""
    runtime.check_open()
    slots = runtime.ordered()
    ready = [slot for slot in slots if slot.state is ServerState.READY]
    outcomes = {
        slot.name: value for slot, value, _ in runtime.fan_out(ready, lambda slot: slot.ping(timeout), timeout + FANOUT_GRACE)
    }
    report: Dict[str, HealthStatus] = {}
    for slot in slots:
        outcome = outcomes.get(slot.name)
        if outcome is None:
            status = slot.status()
            report[slot.name] = HealthStatus(slot.name, slot.state, False, None, status.error or f"not {ServerState.READY.value}")
        else:
            ok, latency, error = outcome
            # A server found dead is exited (a state the fallbacks already cover, and left when it
            # restarts); one that is up but failing is marked down until a check finds it well.
            runtime.availability.mark_health(slot.name, ok or slot.state is not ServerState.READY, error)
            report[slot.name] = HealthStatus(slot.name, slot.state, ok, latency, error)
    return report


def metrics(runtime: Runtime) -> Dict[str, ServerMetrics]:
    """Calls, errors, retries, restarts, latencies, memory and CPU of every server."""
    slots = runtime.ordered()
    pids = {slot.name: slot.pid for slot in slots}
    usage = process_group_usage(pid for pid in pids.values() if pid is not None)
    result = {}
    for slot in slots:
        pid = pids[slot.name]
        found = slot.metrics(usage.get(pid) if pid is not None else None)
        by_fallback, for_others = runtime.availability.counts(slot.name)
        circuit = runtime.availability.circuit_state(slot.name)
        if by_fallback or for_others or circuit is not None:
            found = dataclasses.replace(found, fallback_calls=by_fallback, served_as_fallback=for_others, circuit=circuit)
        result[slot.name] = found
    return result


def servers_html(runtime: Runtime, tool_map: Mapping[str, ToolInfo]) -> str:
    """A notebook table: each server's state, tool count, restarts and last error."""
    counts: Dict[str, int] = {}
    for info in tool_map.values():
        counts[info.server] = counts.get(info.server, 0) + 1
    closed = runtime.closing
    found = metrics(runtime) if not closed else {}
    rows = []
    for slot in runtime.ordered():
        status = slot.status()
        last = found[slot.name].last_error if slot.name in found else None
        rows.append(
            {"server": slot.name, "state": status.state.value, "tools": counts.get(slot.name, 0), "restarts": status.restarts,
             "error": status.error or last}
        )  # fmt: skip
    return render_servers(rows) + ("<div><i>closed</i></div>" if closed else "")
