#!/usr/bin/env python3
"""Read the results of a conformance run (``client … -o DIR`` or ``server … -o DIR``) and print them as a table.

    python tools/conformance/results.py DIR [--expected-failures tools/conformance/expected-failures.yml]
    python tools/conformance/results.py DIR --server [--expected-failures tools/conformance/expected-server-failures.yml]

The runner writes one folder per scenario, ``DIR/<scenario>-<timestamp>/checks.json`` (a scenario
``auth/x`` lands in ``DIR/auth/x-<timestamp>/``); a server run names them
``DIR/server-<scenario>-<timestamp>/``. A scenario passes, as the runner judges it against a
baseline, when none of its checks is a ``FAILURE`` or a ``WARNING``. The table gives each
scenario's verdict and counts, then every failing or warning check with its id and message.

Also imported by ``tests/test_conformance.py`` and ``tests/test_conformance_server.py`` (stdlib
only, Python 3.9).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

#: ``createResultDir``'s suffix: an ISO timestamp with ``:`` and ``.`` made ``-``.
_TIMESTAMP = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
#: Check statuses that make a scenario fail.
BAD = ("FAILURE", "WARNING")
#: What the runner puts before a scenario's name in the folders of a server run.
SERVER_PREFIX = "server-"


def load_results(folder: Path) -> Dict[str, List[Dict[str, Any]]]:
    """Scenario name -> its checks, for every ``checks.json`` under ``folder`` (the latest run of each)."""
    found: Dict[str, List[Dict[str, Any]]] = {}
    for path in sorted(folder.rglob("checks.json")):  # sorted: a later timestamp wins
        relative = path.parent.relative_to(folder).as_posix()
        name = _TIMESTAMP.sub("", relative)
        checks = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(checks, list):
            raise ValueError(f"{path} does not hold a list of checks")
        found[name] = checks
    return found


def load_server_results(folder: Path) -> Dict[str, List[Dict[str, Any]]]:
    """Scenario name -> its checks, for a server run (``server … -o folder``): the ``server-`` prefix removed."""
    return {
        name[len(SERVER_PREFIX) :] if name.startswith(SERVER_PREFIX) else name: checks
        for name, checks in load_results(folder).items()
    }


def passed(checks: List[Dict[str, Any]]) -> bool:
    """The runner's verdict: no check failed or warned (and there is at least one check)."""
    return bool(checks) and not any(check.get("status") in BAD for check in checks)


def problems(checks: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [check for check in checks if check.get("status") in BAD]


def client_output(folder: Path, scenario: str, stream: str = "stderr") -> str:
    """What the client printed in ``scenario`` (``stdout`` or ``stderr``), from its latest result folder."""
    candidates = sorted(
        path
        for path in folder.rglob(f"{stream}.txt")
        if _TIMESTAMP.sub("", path.parent.relative_to(folder).as_posix()) == scenario
    )
    return candidates[-1].read_text(encoding="utf-8", errors="replace") if candidates else ""


def load_expected_failures(path: Path, section: str = "client") -> List[str]:
    """The ``client:`` (or ``server:``) list of an expected-failures file (block-style YAML:
    ``client:`` then ``- name`` lines)."""
    names: List[str] = []
    current: Optional[str] = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line.startswith((" ", "-")):
            key, _, rest = line.partition(":")
            current = key.strip()
            if rest.strip() not in ("", "[]"):
                raise ValueError(f"{path}: write the {current!r} list one '- name' per line")
            continue
        item = line.strip()
        if not item.startswith("- "):
            raise ValueError(f"{path}: unexpected line {raw!r}")
        if current == section:
            names.append(item[2:].strip().strip("'\""))
    return names


def format_table(
    results: Dict[str, List[Dict[str, Any]]], expected: Optional[List[str]] = None, title: str = "", every_check: bool = False
) -> str:
    """A plain-text table: one row per scenario, then its failing and warning checks (``every_check``:
    all its checks but the ``INFO`` ones, which only log requests)."""
    expected = expected or []
    width = max([len(name) for name in results] + [len("scenario")])
    lines = []
    if title:
        lines.append(title)
    lines.append(f"{'scenario'.ljust(width)}  verdict  success failure warning")
    lines.append(f"{'-' * width}  -------  ------- ------- -------")
    for name in sorted(results):
        checks = results[name]
        counts = [sum(1 for check in checks if check.get("status") == status) for status in ("SUCCESS", "FAILURE", "WARNING")]
        verdict = "passed" if passed(checks) else "FAILED"
        note = " (expected failure)" if name in expected and not passed(checks) else ""
        note = " (listed as an expected failure, but passed)" if name in expected and passed(checks) else note
        lines.append(f"{name.ljust(width)}  {verdict:<7}  {counts[0]:>7} {counts[1]:>7} {counts[2]:>7}{note}")
        rows: List[List[Any]] = []  # [status, id, message, repeats]: repeated checks on one row
        for check in [c for c in checks if c.get("status") != "INFO"] if every_check else problems(checks):
            details = check.get("details") if isinstance(check.get("details"), dict) else {}
            message = check.get("errorMessage") or details.get("message") or check.get("description") or ""
            message = " ".join(str(message).split())
            row = [check.get("status"), check.get("id"), message]
            if rows and rows[-1][:3] == row:
                rows[-1][3] += 1
            else:
                rows.append([*row, 1])
        for status, check_id, message, repeats in rows:
            times = f" (x{repeats})" if repeats > 1 else ""
            lines.append(f"{'':{width}}    {status} {check_id}: {message}{times}")
    total = len(results)
    good = sum(1 for checks in results.values() if passed(checks))
    lines.append(f"{good}/{total} scenarios passed")
    return "\n".join(lines)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the runner's -o folder")
    parser.add_argument("--expected-failures", type=Path, help="the expected-failures file, to mark its scenarios")
    parser.add_argument("--checks", action="store_true", help="list every check, not only the failing ones")
    parser.add_argument("--server", action="store_true", help="the folder holds a server run (server-<scenario> folders)")
    arguments = parser.parse_args(argv)
    results = load_server_results(arguments.folder) if arguments.server else load_results(arguments.folder)
    if not results:
        print(f"no checks.json under {arguments.folder}", file=sys.stderr)
        return 1
    section = "server" if arguments.server else "client"
    expected = load_expected_failures(arguments.expected_failures, section) if arguments.expected_failures else []
    print(format_table(results, expected, every_check=arguments.checks))
    return 0 if all(passed(checks) or name in expected for name, checks in results.items()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
