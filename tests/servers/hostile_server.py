"""A hostile stdio MCP server: it completes the handshake, then misbehaves on ``tools/call``.

Run with ``sys.executable -u tests/servers/hostile_server.py MODE [options]``. Plain stdlib, one
thread reading stdin (plus one writer thread in ``request-flood``). Every mode answers
``server/discover`` with -32601 (a legacy server), ``initialize``, ``ping`` and ``tools/list``
(one tool, ``attack``); what happens on ``tools/call`` depends on ``MODE``:

* ``partial-line``: writes the first half of the response line, no newline, and exits 5.
* ``huge-line``: writes one response line of ``--size`` bytes (in 1 MiB pieces).
* ``stderr-flood``: writes ``--size`` bytes to stderr with no newline, then answers.
* ``notify-flood``: sends ``--count`` ``notifications/progress`` (for the call's progress token)
  before the answer.
* ``request-flood``: sends ``--count`` ``roots/list`` requests (each padded with ``--size``
  bytes) as fast as it can, waits for every answer, then answers the call with the count of
  results and errors received.
* ``stubborn``: never answers; ignores SIGTERM and the end of stdin.
* ``setsid-grandchild``: starts a grandchild in a new session (outside the process group) that
  inherits stdout and stderr and sleeps; writes its pid to ``--record``; answers.
* ``close-stdout``: closes its stdout and keeps running (ignores the end of stdin) without
  answering.

``--record FILE`` appends one line per message received (``method`` or ``response <id>``) and
what the mode wants to report, flushed at once, so a test can read it after the process died.
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

out = sys.stdout.buffer
write_lock = threading.Lock()
options = argparse.Namespace()
MiB = 1024 * 1024


def send_raw(data: bytes) -> None:
    with write_lock:
        out.write(data)
        out.flush()


def send(message) -> None:
    send_raw(json.dumps(message, separators=(",", ":")).encode() + b"\n")


def record(line: str) -> None:
    if options.record:
        with open(options.record, "a") as handle:
            handle.write(line + "\n")


def result(request_id, value) -> None:
    send({"jsonrpc": "2.0", "id": request_id, "result": value})


def text(value: str) -> dict:
    return {"content": [{"type": "text", "text": value}]}


def sleep_forever() -> None:
    while True:
        time.sleep(1)


# ------------------------------------------------------------------------------ modes


def partial_line(request_id, meta) -> None:
    line = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": text("never finished")}).encode()
    send_raw(line[: len(line) // 2])
    sys.stderr.write("hostile: cut off mid-line\n")
    sys.stderr.flush()
    os._exit(5)


def huge_line(request_id, meta) -> None:
    head = b'{"jsonrpc":"2.0","id":' + json.dumps(request_id).encode() + b',"result":{"content":[{"type":"text","text":"'
    tail = b'"}]}}\n'
    piece = b"a" * MiB
    remaining = options.size - len(head) - len(tail)
    try:
        with write_lock:
            out.write(head)
            while remaining > 0:
                out.write(piece[: min(remaining, MiB)])
                remaining -= MiB
            out.write(tail)
            out.flush()
    except OSError:  # the client gave up on the line and closed the pipe
        os._exit(0)


def stderr_flood(request_id, meta) -> None:
    piece = b"e" * MiB
    remaining = options.size
    while remaining > 0:
        os.write(2, piece[: min(remaining, MiB)])
        remaining -= MiB
    os.write(2, b"\nhostile: end of the flood\n")
    result(request_id, text("flooded"))


def notify_flood(request_id, meta) -> None:
    token = meta.get("progressToken")
    total = options.count
    batch = []
    for step in range(1, total + 1):
        batch.append(json.dumps({"jsonrpc": "2.0", "method": "notifications/progress",
                                 "params": {"progressToken": token, "progress": step, "total": total}}).encode() + b"\n")
        if len(batch) == 1000:
            send_raw(b"".join(batch))
            batch = []
    if batch:
        send_raw(b"".join(batch))
    result(request_id, text(f"sent {total}"))


flood_answers: dict = {"result": 0, "error": 0}
flood_done = threading.Event()
flood_call = [None]


def request_flood(request_id, meta) -> None:
    flood_call[0] = request_id
    padding = "p" * options.size

    def write_all() -> None:
        batch = []
        for index in range(options.count):
            batch.append(json.dumps({"jsonrpc": "2.0", "id": f"flood-{index}", "method": "roots/list",
                                     "params": {"_meta": {"padding": padding}}}).encode() + b"\n")
            if len(batch) == 100:
                send_raw(b"".join(batch))
                batch = []
        if batch:
            send_raw(b"".join(batch))
        record("flood written")

    threading.Thread(target=write_all, daemon=True).start()


def flood_response(message) -> None:
    kind = "error" if "error" in message else "result"
    flood_answers[kind] += 1
    if flood_answers["result"] + flood_answers["error"] == options.count:
        record(f"flood answered {flood_answers['result']} results {flood_answers['error']} errors")
        result(flood_call[0], text(json.dumps(flood_answers)))


def stubborn(request_id, meta) -> None:
    record(f"parked {request_id}")


def setsid_grandchild(request_id, meta) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)"],
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # escapes the process group the client signals
    )
    record(f"grandchild {child.pid}")
    result(request_id, text(str(child.pid)))


def close_stdout(request_id, meta) -> None:
    record(f"closing stdout {request_id}")
    with write_lock:
        out.flush()
        os.close(1)
    record("stdout closed")


MODES = {
    "partial-line": partial_line,
    "huge-line": huge_line,
    "stderr-flood": stderr_flood,
    "notify-flood": notify_flood,
    "request-flood": request_flood,
    "stubborn": stubborn,
    "setsid-grandchild": setsid_grandchild,
    "close-stdout": close_stdout,
}


# ------------------------------------------------------------------------------ the protocol


def handle(message) -> None:
    if not isinstance(message, dict):
        return
    method = message.get("method")
    request_id = message.get("id")
    if method is None:
        record(f"response {request_id}")
        if isinstance(request_id, str) and request_id.startswith("flood-"):
            flood_response(message)
        return
    record(method if method != "notifications/cancelled" else f"{method} {(message.get('params') or {}).get('requestId')}")
    if request_id is None:
        return
    params = message.get("params") or {}
    if method == "initialize":
        result(request_id, {"protocolVersion": params.get("protocolVersion", "2025-11-25"),
                            "capabilities": {"tools": {}}, "serverInfo": {"name": "hostile", "version": "0"}})
    elif method == "tools/list":
        result(request_id, {"tools": [{"name": "attack", "description": options.mode, "inputSchema": {"type": "object"}}]})
    elif method == "ping":
        result(request_id, {})
    elif method == "tools/call":
        MODES[options.mode](request_id, params.get("_meta") or {})
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": f"Method not found: {method}"}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--size", type=int, default=200 * MiB)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--record")
    parser.parse_args(namespace=options)
    if options.mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        handle(message)
    record("stdin closed")
    if options.mode in ("stubborn", "close-stdout"):
        sleep_forever()


if __name__ == "__main__":
    main()
