"""Memory and CPU use of child process groups, read from ``/proc`` (Linux; nothing elsewhere).

A stdio server runs in its own process group whose id is the child's pid, so a server started
through ``npx`` is measured together with the ``node`` process it runs. One scan of ``/proc``
answers for every group at once. No dependency (psutil is not one).

Example:
    import os
    usage = process_group_usage([os.getpgid(0)])
    usage[os.getpgid(0)].rss_bytes > 0
    # -> True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

__all__ = ["ProcessUsage", "process_group_usage", "process_usage"]

_PROC = "/proc"


@dataclass(frozen=True)
class ProcessUsage:
    """Resident memory and CPU time of a set of processes.

    Attributes:
        pids: the processes measured.
        rss_bytes: their resident set size, summed.
        cpu_seconds: their user + system CPU time, summed (children already reaped excluded).

    Example:
        >>> ProcessUsage((1,), 4096, 0.5).rss_bytes
        4096
    """

    pids: Tuple[int, ...]
    rss_bytes: int
    cpu_seconds: float


def _ticks_and_page() -> Tuple[int, int]:
    try:
        return os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 100, 4096


def _read_stat(pid: str) -> Optional[Tuple[int, float, int]]:
    """``(pgrp, cpu ticks, rss pages)`` of one process, or ``None`` if it vanished."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        # man 5 proc: field 5 pgrp, 14 utime, 15 stime, 24 rss; index = field - 3 here.
        return int(fields[2]), float(int(fields[11]) + int(fields[12])), int(fields[21])
    except (IndexError, ValueError):
        return None


def process_group_usage(pgids: Iterable[int]) -> Dict[int, ProcessUsage]:
    """Usage per process group, for the groups given that have live processes (``{}`` off Linux).

    Example:
        >>> process_group_usage([])
        {}
    """
    wanted = set(pgids)
    if not wanted or not os.path.isdir(_PROC):
        return {}
    ticks, page = _ticks_and_page()
    totals: Dict[int, Tuple[list[int], float, int]] = {}
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return {}
    for entry in entries:
        if not entry.isdigit():
            continue
        stat = _read_stat(entry)
        if stat is None or stat[0] not in wanted:
            continue
        pgrp, cpu, rss = stat
        pids, cpu_total, rss_total = totals.get(pgrp, ([], 0.0, 0))
        pids.append(int(entry))
        totals[pgrp] = (pids, cpu_total + cpu, rss_total + rss)
    return {group: ProcessUsage(tuple(sorted(pids)), rss * page, cpu / ticks) for group, (pids, cpu, rss) in totals.items()}


def process_usage(pid: int) -> Optional[ProcessUsage]:
    """Usage of one process alone, or ``None`` if it is gone or ``/proc`` is unavailable.

    Example:
        process_usage(os.getpid()).cpu_seconds >= 0
        # -> True
    """
    stat = _read_stat(str(pid))
    if stat is None:
        return None
    ticks, page = _ticks_and_page()
    return ProcessUsage((pid,), stat[2] * page, stat[1] / ticks)
