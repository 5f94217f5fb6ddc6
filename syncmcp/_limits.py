"""Resource limits of a stdio server: platform support, how they are applied, what they killed.

Three limits are kernel resource limits (``setrlimit``) set on the child before the server's
first instruction runs; the fourth, the wall-clock lifetime, is kept by the manager:

* ``memory_limit_mb``: ``RLIMIT_AS``, the address space, in MiB (an allocation beyond it fails:
  Python raises ``MemoryError``, C gets ``ENOMEM``);
* ``cpu_time_limit_sec``: ``RLIMIT_CPU``, CPU seconds (``SIGXCPU`` at the limit, ``SIGKILL`` one
  CPU second later if the server survives that);
* ``open_files_limit``: ``RLIMIT_NOFILE`` (opening one more fails with ``EMFILE``);
* ``max_lifetime_sec``: the manager stops the server after that many seconds of being ready.

They are applied through a **trampoline**: the child is ``python -I -S -c <code>``, which sets the
limits in the new process and then ``execve``-s the server in place (same pid, so the process
group, the pipes and the environment stay the server's). Nothing runs between ``fork`` and
``exec`` in this (threaded) process but ``subprocess``'s own C code, so there is no
``preexec_fn``; the limits are in force before the server runs, which ``prlimit(pid)`` after the
spawn could not promise; and it needs no other program (``prlimit(1)`` is Linux's util-linux
only). ``-I -S`` keep the trampoline from reading ``PYTHON*`` variables, the user's site
directory, ``.pth`` files or modules in the server's working directory. Limits are per process
and inherited: every process in the server's group gets its own, none shares one total.

Platforms: Linux and other POSIX systems support all four; macOS does not enforce
``RLIMIT_AS`` (``memory_limit_mb`` is refused there); Windows has no ``setrlimit`` (only
``max_lifetime_sec`` is accepted).

Example:
    >>> limit_problem("open_files_limit", 64, platform="win32")
    'resource limits need setrlimit, which win32 does not have (only max_lifetime_sec works everywhere)'
    >>> explain_exit({"cpu_time_limit_sec": 2}, -24, "")
    'resource limit exceeded: cpu_time_limit_sec = 2 (the kernel sent SIGXCPU after 2 s of CPU time)'
"""

from __future__ import annotations

import re
import signal
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

_resource: Any
try:
    import resource as _resource
except ImportError:  # pragma: no cover - Windows
    _resource = None

__all__ = ["LIMIT_KEYS", "RLIMIT_KEYS", "explain_exit", "limit_problem", "trampoline_command"]

#: The configuration keys of the limits set with ``setrlimit``, and the resource each sets.
RLIMIT_KEYS: Dict[str, str] = {
    "memory_limit_mb": "RLIMIT_AS",
    "cpu_time_limit_sec": "RLIMIT_CPU",
    "open_files_limit": "RLIMIT_NOFILE",
}
#: Every limit key, the lifetime included.
LIMIT_KEYS = (*RLIMIT_KEYS, "max_lifetime_sec")
_MIB = 1024 * 1024
#: Seconds of CPU between SIGXCPU (the soft limit) and SIGKILL (the hard one).
CPU_KILL_GRACE = 1

#: ``sys.platform``, which decides what can be applied (a variable, so tests can pretend).
_PLATFORM = sys.platform
_SIGXCPU: Optional[int] = getattr(signal, "SIGXCPU", None)
_SIGKILL: Optional[int] = getattr(signal, "SIGKILL", None)
#: What runtimes write when an allocation fails: Python, libc (strerror), C++, Rust, ld.so, V8, Go.
_OUT_OF_MEMORY = re.compile(
    r"MemoryError|Cannot allocate memory|ENOMEM|bad_alloc|memory allocation of \d+ bytes failed|failed to map segment"
    r"|out of memory",
    re.IGNORECASE,
)
_OUT_OF_FILES = re.compile(r"Too many open files|EMFILE")

# Runs in the child after exec (a fresh single-threaded interpreter): argv is
# [limits, LC_CTYPE as it was ("" = unset, else "=value"), program, argv0, args...].
_TRAMPOLINE = """\
import os, resource, signal, sys
for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ"):
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
limits, ctype, program = sys.argv[1:4]
env = dict(os.environ)
env.pop("LC_CTYPE", None)
if ctype:
    env["LC_CTYPE"] = ctype[1:]
for item in limits.split(","):
    name, soft, hard = item.split(":")
    try:
        resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
    except (ValueError, OSError) as exc:
        os.write(2, ("syncmcp: cannot set %s to %s: %s\\n" % (name, soft, exc)).encode())
        os._exit(126)
try:
    os.execve(program, sys.argv[4:], env)
except OSError as exc:
    os.write(2, ("syncmcp: cannot run %s: %s\\n" % (program, exc)).encode())
    os._exit(127)
"""


def _hard_limit(resource_name: str) -> Optional[int]:
    """The hard limit of a resource in this process (which a child cannot raise); ``None``: unlimited."""
    if _resource is None:
        return None
    hard = _resource.getrlimit(getattr(_resource, resource_name))[1]
    return None if hard == _resource.RLIM_INFINITY else int(hard)


def _native(key: str, value: int) -> int:
    return value * _MIB if key == "memory_limit_mb" else value


def limit_problem(key: str, value: int, *, platform: Optional[str] = None) -> Optional[str]:
    """Why ``key = value`` cannot be applied on this platform (or ``platform``), or ``None``.

    Example:
        >>> limit_problem("memory_limit_mb", 512, platform="darwin")
        'macOS does not enforce RLIMIT_AS (address-space limits), so memory_limit_mb cannot be applied'
    """
    platform = _PLATFORM if platform is None else platform
    if key not in RLIMIT_KEYS:
        return None
    if platform == "win32" or _resource is None:
        return f"resource limits need setrlimit, which {platform} does not have (only max_lifetime_sec works everywhere)"
    name = RLIMIT_KEYS[key]
    if platform == "darwin" and key == "memory_limit_mb":
        return "macOS does not enforce RLIMIT_AS (address-space limits), so memory_limit_mb cannot be applied"
    if not hasattr(_resource, name):
        return f"{platform} has no {name}"
    hard = _hard_limit(name)
    if hard is not None and _native(key, value) > hard:
        shown = f"{hard // _MIB} MiB" if key == "memory_limit_mb" else str(hard)
        return f"{value} is above this process's hard {name} limit ({shown}), which a child cannot raise"
    return None


def trampoline_command(
    limits: Mapping[str, int], program: str, argv: Sequence[str], env: Mapping[str, str], python: str
) -> List[str]:
    """The command line that sets ``limits`` (config keys -> values) and then runs ``program``.

    ``argv`` is the server's own argument vector (``argv[0]`` included); ``env`` the environment
    it gets (to undo the interpreter's locale coercion, which would add ``LC_CTYPE``).

    Example:
        >>> trampoline_command({"open_files_limit": 64}, "/bin/cat", ["cat"], {}, "/usr/bin/python3")[5:]
        ['RLIMIT_NOFILE:64:64', '', '/bin/cat', 'cat']
    """
    items = []
    for key, value in limits.items():
        name = RLIMIT_KEYS[key]
        soft = hard = _native(key, value)
        if key == "cpu_time_limit_sec":
            hard = soft + CPU_KILL_GRACE
            ceiling = _hard_limit(name)
            if ceiling is not None:
                hard = min(hard, ceiling)
        items.append(f"{name}:{soft}:{hard}")
    ctype = env.get("LC_CTYPE")
    return [python, "-I", "-S", "-c", _TRAMPOLINE, ",".join(items), "" if ctype is None else "=" + ctype, program, *argv]


def explain_exit(limits: Mapping[str, Any], returncode: Optional[int], stderr_tail: str) -> Optional[str]:
    """Which configured limit a server's exit points to, as a sentence; ``None`` if none does.

    ``limits`` maps the configured limit keys to their values; ``returncode`` is negative for a
    signal. Evidence is required: ``SIGXCPU`` (or ``SIGKILL`` under a CPU limit), or the
    out-of-memory / ``EMFILE`` texts a failing runtime writes to stderr.

    Example:
        >>> explain_exit({"open_files_limit": 32}, 1, "OSError: [Errno 24] Too many open files")
        'resource limit exceeded: open_files_limit = 32 (it ran out of file descriptors: EMFILE)'
        >>> explain_exit({"open_files_limit": 32}, 0, "") is None
        True
    """
    if returncode is None or returncode == 0:
        return None
    cpu = limits.get("cpu_time_limit_sec")
    if cpu is not None and _SIGXCPU is not None and returncode == -_SIGXCPU:
        return f"resource limit exceeded: cpu_time_limit_sec = {cpu} (the kernel sent SIGXCPU after {cpu} s of CPU time)"
    memory = limits.get("memory_limit_mb")
    if memory is not None and _OUT_OF_MEMORY.search(stderr_tail):
        return f"resource limit exceeded: memory_limit_mb = {memory} (it ran out of memory: an allocation failed)"
    files = limits.get("open_files_limit")
    if files is not None and _OUT_OF_FILES.search(stderr_tail):
        return f"resource limit exceeded: open_files_limit = {files} (it ran out of file descriptors: EMFILE)"
    if cpu is not None and _SIGKILL is not None and returncode == -_SIGKILL:
        return (
            f"killed by SIGKILL, probably the hard CPU time limit: cpu_time_limit_sec = {cpu} "
            f"(SIGKILL follows SIGXCPU after {CPU_KILL_GRACE} more s of CPU)"
        )
    return None
