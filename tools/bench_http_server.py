#!/usr/bin/env python3
"""A fast, minimal MCP Streamable HTTP server for ``tools/bench_http.py``: standard library only.

    python tools/bench_http_server.py [--port 0] [--sse]

It listens on 127.0.0.1 (port 0: one the system picks) and prints ``LISTENING <port>`` on stdout
once it accepts connections. It stops on SIGTERM or Ctrl-C, and with ``--exit-on-stdin-eof`` when
its standard input closes (bench_http.py uses that, so the server never outlives the benchmark).

What it speaks (the legacy, handshake-based era, like a TypeScript SDK server without sessions):

* ``POST`` of a JSON-RPC request: ``initialize`` -> ``2025-11-25``; ``ping``; ``tools/list`` (one
  tool, ``echo``); ``tools/call`` of ``echo {message}`` -> ``Echo: <message>``, of ``echo {text}``
  -> ``<text>`` as is (the tool of ``tools/bench_http_serve.py``); other methods -> a JSON-RPC
  ``-32601`` error. ``server/discover`` -> HTTP 400 with the JSON-RPC error body the TypeScript
  SDK sends (``Bad Request: Server not initialized``), so clients that probe for the 2026-07-28
  era fall back to ``initialize``.
* A request whose ``params._meta`` carries protocol version ``2026-07-28`` (a stateless client
  that skips ``server/discover``, as bench_http_serve.py's does) is answered in that era: its
  result gets ``resultType: complete`` and the server's identity in ``_meta``, as the official
  SDK and syncmcp stamp them. Nothing else of that era is checked (no headers, no envelope keys).
* ``POST`` of a notification or a response -> ``202 Accepted``, empty body.
* ``GET`` and ``DELETE`` -> ``405`` (no standalone stream, no session to end); no
  ``Mcp-Session-Id`` is issued or required.
* Answers are ``application/json`` with ``Content-Length``; with ``--sse`` every request is
  answered with a one-event ``text/event-stream`` body (also with ``Content-Length``).

HTTP/1.1 keep-alive, one thread per connection on raw sockets, no parsing beyond what the answers
need: it has to keep up with the fastest client so that client differences show (bench_http.py
reports its CPU time per call next to every figure). For the same reason it is the ``raw`` server
of bench_http_serve.py, the limit for a Python server there: every body is decoded with
``json.loads`` and every answer encoded with ``json``'s encoder, and nothing else is done.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from typing import Any, Tuple

SERVER_INFO = {"name": "bench-http-server", "version": "1.0.0"}
PROTOCOL_VERSION = "2025-11-25"
MODERN_PROTOCOL_VERSION = "2026-07-28"
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
ECHO_TOOL = {
    "name": "echo",
    "description": "Echo back the message (prefixed with 'Echo: '), or the text (as is).",
    "inputSchema": {
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "what to echo, prefixed"},
            "text": {"type": "string", "description": "what to echo as is"},
        },
    },
}
#: The body the TypeScript SDK sends for a request other than initialize before a session exists.
NOT_INITIALIZED = b'{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: Server not initialized"},"id":null}'
MAX_HEAD = 65536
ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def result_for(message: Any) -> Tuple[int, Any]:
    """(HTTP status, JSON-RPC answer or None) for one decoded POST body."""
    if not isinstance(message, dict):
        return 400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batches are not supported"}}
    method = message.get("method")
    if "id" not in message or not isinstance(method, str):
        return 202, None  # a notification, or an answer to a request of ours (we send none)
    rid = message["id"]
    params = message.get("params") or {}
    if method == "tools/call":
        arguments = params.get("arguments") or {}
        if params.get("name") != "echo":
            return 200, {"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "unknown tool"}}
        text = f"Echo: {arguments['message']}" if "message" in arguments else arguments.get("text", "")
        result: Any = {"content": [{"type": "text", "text": text}]}
    elif method == "initialize":
        result = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {"tools": {}}, "serverInfo": SERVER_INFO}
    elif method == "tools/list":
        result = {"tools": [ECHO_TOOL]}
    elif method == "ping":
        result = {}
    elif method == "server/discover":
        return 400, NOT_INITIALIZED
    else:
        return 200, {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"method not found: {method}"}}
    meta = params.get("_meta")
    if isinstance(meta, dict) and meta.get(META_PROTOCOL_VERSION) == MODERN_PROTOCOL_VERSION:
        result["resultType"] = "complete"
        result["_meta"] = {META_SERVER_INFO: SERVER_INFO}
    return 200, {"jsonrpc": "2.0", "id": rid, "result": result}


REASONS = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 405: b"Method Not Allowed", 411: b"Length Required"}


def response_bytes(status: int, payload: bytes, sse: bool) -> bytes:
    if status == 202:
        return b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
    if status == 405:
        return b"HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Length: 0\r\n\r\n"
    if sse and status == 200:
        payload = b"event: message\ndata: " + payload + b"\n\n"
        kind = b"text/event-stream\r\nCache-Control: no-cache"
    else:
        kind = b"application/json"
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        REASONS.get(status, b"Error"),
        kind,
        len(payload),
        payload,
    )


def serve_connection(conn: socket.socket, sse: bool) -> None:
    """Answer requests on one keep-alive connection until the client closes it."""
    recv, sendall = conn.recv, conn.sendall
    buffer = b""
    try:
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(buffer) > MAX_HEAD:
                    return
                data = recv(65536)
                if not data:
                    return
                buffer += data
                end = buffer.find(b"\r\n\r\n")
            head = buffer[:end].lower()
            rest = buffer[end + 4 :]
            verb = head[: head.find(b" ")]
            at = head.find(b"\r\ncontent-length:")
            length = 0
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            elif b"\r\ntransfer-encoding:" in head:
                sendall(response_bytes(411, b"", False))
                return
            while len(rest) < length:
                data = recv(65536)
                if not data:
                    return
                rest += data
            body, buffer = rest[:length], rest[length:]
            if verb != b"post":
                sendall(response_bytes(405, b"", sse))
            else:
                try:
                    status, answer = result_for(json.loads(body))
                except ValueError:
                    status, answer = 400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
                payload = answer if isinstance(answer, bytes) else (ENCODE(answer).encode() if answer is not None else b"")
                sendall(response_bytes(status, payload, sse))
            if b"\r\nconnection: close" in head:
                return
    except OSError:
        return
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--sse", action="store_true", help="answer every request with a one-event SSE stream")
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop when standard input closes (used by bench_http.py)"
    )
    options = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", options.port))
    listener.listen(128)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def watch_stdin() -> None:  # the parent went away (or closed our stdin): stop
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)

    if options.exit_on_stdin_eof:
        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    print(f"LISTENING {listener.getsockname()[1]}", flush=True)
    try:
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=serve_connection, args=(conn, options.sse), daemon=True).start()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
