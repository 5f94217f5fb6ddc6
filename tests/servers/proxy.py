"""A tiny HTTP proxy for tests: absolute-URI forwarding for ``http://``, ``CONNECT`` tunnels for ``https://``.

Runs in process on ``127.0.0.1`` (port 0), one thread per client connection. Every request it
gets is recorded (:class:`ProxyRequest`: method, target, headers) so a test can assert that a
request went through it, in which form, and with which ``Proxy-Authorization``. With
``credentials=("user", "pw")`` it answers ``407`` to requests without the matching Basic
credentials.

Forwarded ``http://`` requests go upstream with ``Connection: close``; the answer is relayed as
it arrives (SSE streams included) until the upstream closes, and the client connection stays
open for its next request. A tunnel relays bytes both ways until either side closes.

Example::

    with TestProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        ...
        assert proxy.requests[0].target.startswith("http://127.0.0.1:")
"""

from __future__ import annotations

import base64
import select
import socket
import threading
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["ProxyRequest", "TestProxy"]


class ProxyRequest:
    """One request the proxy received (a ``CONNECT``, or a request in absolute-URI form)."""

    def __init__(self, method: str, target: str, headers: Dict[str, str]) -> None:
        self.method = method
        self.target = target
        self.headers = headers  # names lowercased

    def __repr__(self) -> str:
        return f"<ProxyRequest {self.method} {self.target}>"


class TestProxy:
    """A forwarding and tunnelling proxy on a thread; ``close()`` joins everything."""

    __test__ = False  # not a pytest test class

    def __init__(self, credentials: Optional[Tuple[str, str]] = None) -> None:
        self.credentials = credentials
        self.requests: List[ProxyRequest] = []
        self._lock = threading.Lock()
        self._sockets: set = set()
        self._threads: List[threading.Thread] = []
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept, name="test-proxy", daemon=True)
        self._acceptor.start()

    def url_with(self, user: str, password: str) -> str:
        return f"http://{urllib.parse.quote(user)}:{urllib.parse.quote(password)}@127.0.0.1:{self.port}"

    def __enter__(self) -> TestProxy:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._acceptor.join(5)
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in list(self._threads):
            thread.join(5)

    # ------------------------------------------------------------------ internals

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], 0.05)
                if not ready:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), name="test-proxy-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _own(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def _serve(self, client: socket.socket) -> None:
        self._own(client, True)
        reader = client.makefile("rb")
        try:
            while not self._closed.is_set():
                head = _read_head(reader)
                if head is None:
                    return
                method, target, headers = head
                with self._lock:
                    self.requests.append(ProxyRequest(method, target, headers))
                if not self._authorized(headers):
                    client.sendall(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n"
                        b"Content-Length: 0\r\n\r\n"
                    )
                    body_length = int(headers.get("content-length") or 0)
                    reader.read(body_length)
                    continue
                if method == "CONNECT":
                    self._tunnel(client, reader, target)
                    return
                body = reader.read(int(headers.get("content-length") or 0))
                if not self._forward(client, method, target, headers, body):
                    return
        except OSError:
            return
        finally:
            reader.close()
            self._own(client, False)
            client.close()

    def _authorized(self, headers: Dict[str, str]) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return headers.get("proxy-authorization") == f"Basic {expected}"

    def _connect(self, host: str, port: int) -> socket.socket:
        upstream = socket.create_connection((host, port), timeout=5)
        upstream.settimeout(None)
        self._own(upstream, True)
        return upstream

    def _tunnel(self, client: socket.socket, reader: Any, target: str) -> None:
        host, _, port = target.rpartition(":")
        try:
            upstream = self._connect(host.strip("[]"), int(port))
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            # The client waits for this answer before its TLS hello: nothing is left in ``reader``.
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _relay(client, upstream, self._closed)
        finally:
            self._own(upstream, False)
            upstream.close()

    def _forward(self, client: socket.socket, method: str, target: str, headers: Dict[str, str], body: bytes) -> bool:
        parts = urllib.parse.urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return True
        try:
            upstream = self._connect(parts.hostname, parts.port or 80)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return True
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            lines = [f"{method} {path} HTTP/1.1"]
            for name, value in headers.items():
                if name not in ("proxy-authorization", "proxy-connection", "connection"):
                    lines.append(f"{name}: {value}")
            lines.append("connection: close")
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            while not self._closed.is_set():
                ready, _, _ = select.select([upstream, client], [], [], 0.05)
                if upstream in ready:
                    data = upstream.recv(65536)
                    if not data:
                        return True
                    client.sendall(data)
                elif client in ready and not client.recv(1, socket.MSG_PEEK):
                    return False  # the client went away mid-response
            return False
        finally:
            self._own(upstream, False)
            upstream.close()


def _read_head(reader: Any) -> Optional[Tuple[str, str, Dict[str, str]]]:
    line = reader.readline(65537)
    if not line:
        return None
    method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: Dict[str, str] = {}
    while True:
        raw = reader.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return method, target, headers


def _relay(a: socket.socket, b: socket.socket, closed: threading.Event) -> None:
    while not closed.is_set():
        ready, _, _ = select.select([a, b], [], [], 0.05)
        for source in ready:
            data = source.recv(65536)
            if not data:
                return
            (b if source is a else a).sendall(data)
