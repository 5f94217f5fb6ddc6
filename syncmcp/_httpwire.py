"""HTTP/1.1 client plumbing: requests, streamed responses, and a keep-alive connection pool.

Only what an MCP client needs, from the standard library (``socket``, ``ssl``): ``POST``, ``GET``
and ``DELETE`` with a body given whole; responses read as they arrive (``Content-Length``,
chunked, or until the server closes), so an SSE stream can be consumed event by event; TLS
against the system trust store (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured by OpenSSL);
``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` from the environment, with ``CONNECT`` tunnels for
HTTPS; idle connections kept per host and checked before reuse.

Nothing here knows MCP, and nothing here logs or formats a header *value*: headers may carry
tokens. :func:`redact_url` hides query values in the URLs that do appear in messages.

Example::

    pool = ConnectionPool()
    response = pool.send(HttpRequest("GET", "https://example.com/.well-known/oauth-protected-resource"))
    print(response.status, response.json())
    pool.close()
"""

from __future__ import annotations

import base64
import errno
import io
import json
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union, cast

from ._exceptions import HTTPError, MessageTooLarge
from ._urls import redact_url
from ._version import __version__

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "USER_AGENT",
    "Abortable",
    "ConnectionPool",
    "Headers",
    "HttpRequest",
    "HttpResponse",
    "ProxySettings",
    "redact_url",
]

#: Seconds to establish a connection (TCP, proxy tunnel and TLS handshake together).
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Most idle keep-alive connections kept per host.
DEFAULT_MAX_IDLE = 8
#: ``User-Agent`` of every request.
USER_AGENT = f"syncmcp/{__version__}"
#: Longest status line or header line accepted, and most header lines.
_MAX_LINE = 65536
_MAX_HEADERS = 200
#: URLs whose parse and proxy decision a pool remembers (one MCP endpoint needs one).
_MAX_TARGETS = 64
#: Characters of a response body quoted in an error.
BODY_EXCERPT_CHARS = 300


class Headers:
    """Case-insensitive HTTP headers, in order, repeated names allowed.

    Its ``repr`` shows names only: values may be credentials.

    Example:
        >>> h = Headers({"Content-Type": "application/json"})
        >>> h["content-type"], "CONTENT-TYPE" in h
        ('application/json', True)
    """

    __slots__ = ("_items",)

    def __init__(self, items: Union[Mapping[str, str], Iterable[Tuple[str, str]], None] = None) -> None:
        pairs = items.items() if isinstance(items, Mapping) else (items or ())
        # (lowercased name, name, value): lookups compare the lowercased name computed once.
        self._items: List[Tuple[str, str, str]] = [(str(k).lower(), str(k), str(v)) for k, v in pairs]

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of ``name``, or ``default``."""
        lowered = name.lower()
        for key, _, value in self._items:
            if key == lowered:
                return value
        return default

    def get_all(self, name: str) -> List[str]:
        """Every value of ``name``, in order."""
        lowered = name.lower()
        return [value for key, _, value in self._items if key == lowered]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        lowered = name.lower()
        items = self._items
        if any(key == lowered for key, _, _ in items):
            self._items = items = [item for item in items if item[0] != lowered]
        items.append((lowered, name, value))

    def add(self, name: str, value: str) -> None:
        """Append ``name: value``, keeping any earlier value of ``name``."""
        self._items.append((name.lower(), name, value))

    def setdefault(self, name: str, value: str) -> str:
        """Set ``name`` unless present; return its value."""
        current = self.get(name)
        if current is not None:
            return current
        self.add(name, value)
        return value

    def pop(self, name: str) -> Optional[str]:
        """Remove every ``name``; return the first value removed."""
        lowered = name.lower()
        found = self.get(name)
        if found is not None:
            self._items = [item for item in self._items if item[0] != lowered]
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> List[Tuple[str, str]]:
        """``(name, value)`` pairs in order."""
        return [(name, value) for _, name, value in self._items]

    def copy(self) -> Headers:
        """An independent copy."""
        clone = Headers.__new__(Headers)
        clone._items = list(self._items)
        return clone

    def __repr__(self) -> str:
        return f"Headers({[name for _, name, _ in self._items]!r})"


@dataclass
class HttpRequest:
    """One HTTP request, its body given whole.

    Attributes:
        method: ``GET``, ``POST``, ``DELETE``...
        url: absolute ``http`` or ``https`` URL.
        headers: request headers (``Host``, ``Content-Length``, ``User-Agent`` are added).
        body: the body bytes.
        replayable: may be sent again on a fresh connection when a kept-alive connection turns
            out to be closed before any response byte arrived (never for a tool call).
    """

    method: str
    url: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    replayable: bool = False

    def __repr__(self) -> str:
        return f"<HttpRequest {self.method} {redact_url(self.url)}>"


# ----------------------------------------------------------------------------- proxies


@dataclass(frozen=True)
class ProxySettings:
    """Which proxy a URL goes through: the environment's ``*_PROXY`` / ``NO_PROXY``, or explicit.

    Example:
        >>> ProxySettings({"https": "http://proxy:3128"}).proxy_for("https://api.test/mcp")
        'http://proxy:3128'
        >>> ProxySettings({"https": "http://proxy:3128"}, no_proxy="api.test").proxy_for("https://api.test/mcp")
    """

    proxies: Mapping[str, str] = field(default_factory=dict)
    no_proxy: str = ""

    @classmethod
    def from_environment(cls) -> ProxySettings:
        """``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY`` (either case) as ``urllib`` reads them."""
        found = urllib.request.getproxies_environment()
        no_proxy = found.pop("no", "")
        return cls({k: v for k, v in found.items() if k in ("http", "https", "all")}, no_proxy)

    def proxy_for(self, url: str) -> Optional[str]:
        """The proxy URL to use for ``url``, or ``None`` to connect directly."""
        parts = urllib.parse.urlsplit(url)
        proxy = self.proxies.get(parts.scheme) or self.proxies.get("all")
        if not proxy:
            return None
        host = parts.hostname or ""
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)  # "host:443" in NO_PROXY matches https://host/
        if self.no_proxy and _bypassed(host, port, self.no_proxy):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"


def _bypassed(host: str, port: Optional[int], no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and port is not None and entry_port != str(port):
            continue
        name = (name or entry).lstrip(".").strip("[]")
        if host == name or host.endswith("." + name):
            return True
    return False


# ----------------------------------------------------------------------------- connections


#: Longest a close waits for another greenlet (under gevent) to leave the connection's reader.
_READER_CLOSE_WAIT = 1.0


class _Connection:
    """One socket, plain or TLS, possibly through a proxy; a buffered reader on top."""

    __slots__ = ("key", "last_used", "reader", "sock", "through_proxy")

    def __init__(self, key: Tuple[str, str, int, Optional[str]], sock: socket.socket, through_proxy: bool) -> None:
        self.key = key
        self.sock = sock
        self.reader = cast(io.BufferedReader, sock.makefile("rb", buffering=65536))
        self.through_proxy = through_proxy
        self.last_used = time.monotonic()

    def alive(self) -> bool:
        """An idle connection is usable when nothing is readable: no EOF, no stray bytes."""
        try:
            return not _ready(self.sock, 0.0, write=False)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        # Shut down first: it wakes a thread blocked reading, which holds the buffered reader's
        # lock that closing the reader needs.
        _shut(self.sock)
        try:
            self.sock.close()
        except OSError:
            pass
        deadline = time.monotonic() + _READER_CLOSE_WAIT
        while True:
            try:
                self.reader.close()
                return
            except (OSError, ValueError):
                return
            except RuntimeError:
                # Under gevent, the reader is another greenlet of this very thread, so the
                # buffered reader calls this "reentrant" instead of waiting: let it run into the
                # shutdown, then close.
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.001)


def _read_head(reader: Any, url: str) -> Tuple[int, str, Headers, str]:
    """Read a status line and headers; skip ``1xx`` interim responses."""
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise _EmptyResponse(url)
        if len(line) > _MAX_LINE:
            raise HTTPError(f"{redact_url(url)}: the status line is too long", url=url)
        try:
            version, status_text, *rest = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            status = int(status_text)
        except ValueError:
            raise HTTPError(f"{redact_url(url)}: the server did not answer with HTTP ({line[:60]!r})", url=url) from None
        if not version.startswith("HTTP/"):
            raise HTTPError(f"{redact_url(url)}: the server did not answer with HTTP ({line[:60]!r})", url=url)
        headers = Headers()
        for _ in range(_MAX_HEADERS + 1):
            raw = reader.readline(_MAX_LINE + 1)
            if not raw:
                raise HTTPError(f"{redact_url(url)}: the connection closed inside the response headers", url=url)
            if len(raw) > _MAX_LINE:
                raise HTTPError(f"{redact_url(url)}: a response header is too long", url=url)
            if raw in (b"\r\n", b"\n"):
                break
            name, colon, value = raw.decode("latin-1").partition(":")
            if colon:
                headers.add(name.strip(), value.strip())
        else:
            raise HTTPError(f"{redact_url(url)}: too many response headers", url=url)
        if 100 <= status < 200 and status != 101:
            continue
        return status, rest[0] if rest else "", headers, version


class _Attempt:
    """One attempt of :meth:`ConnectionPool.send`, until its response head arrived; :meth:`abort` stops it.

    Connecting polls for the abort (every ``_ABORT_POLL`` seconds); once there is a socket (a new
    one in a proxy tunnel or a TLS handshake, or any one sending the request and awaiting the
    head), it is shut down, which wakes the thread waiting on it. Once :meth:`finish` ran, an
    abort does nothing: a late caller never touches a connection that went back to the pool. The
    lock guards only this object's fields (and the shutdown call); nothing else is called under it.
    """

    __slots__ = ("_finished", "_lock", "_sock", "aborted")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self._finished = False
        self.aborted = False

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down on abort (at once if already aborted)."""
        with self._lock:
            self._sock = sock
            if self.aborted:
                _shut(sock)

    def abort(self) -> None:
        """Stop the attempt, from any thread (idempotent; nothing once it finished)."""
        with self._lock:
            if self._finished:
                return
            self.aborted = True
            if self._sock is not None:
                _shut(self._sock)

    def finish(self) -> None:
        """The attempt is over (answered or failed): later aborts leave its socket alone."""
        with self._lock:
            self._finished = True
            self._sock = None


class Abortable:
    """Keeps the means to abort the request in flight; :meth:`abort` stops it and every later one.

    Pass :meth:`pending` as ``on_pending`` to :meth:`ConnectionPool.send` (for several requests in
    turn, if need be). Thread-safe; the abort functions are called with no lock held.

    Example::

        abortable = Abortable()
        threading.Timer(5.0, abortable.abort).start()
        pool.send(HttpRequest("GET", url), on_pending=abortable.pending)   # HTTPError after 5 s
    """

    __slots__ = ("_abort", "_lock", "aborted")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abort: Optional[Callable[[], None]] = None
        self.aborted = False

    def pending(self, abort: Optional[Callable[[], None]]) -> None:
        """The ``on_pending`` of a request: how to abort its current attempt (``None``: nothing to abort)."""
        with self._lock:
            self._abort = abort
            aborted = self.aborted
        if aborted and abort is not None:
            abort()

    def abort(self) -> None:
        """Abort the current attempt, and every later one at once (idempotent)."""
        with self._lock:
            self.aborted = True
            abort, self._abort = self._abort, None
        if abort is not None:
            abort()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _ready(sock: socket.socket, timeout: float, *, write: bool) -> bool:
    """Whether ``sock`` becomes writable (or readable) within ``timeout`` seconds.

    ``poll`` where the platform has it: ``select`` refuses descriptors above 1023.
    """
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLOUT if write else select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    readable, writable, _ = select.select([] if write else [sock], [sock] if write else [], [], timeout)  # pragma: no cover
    return bool(writable or readable)  # pragma: no cover


#: How often a connection being opened checks whether it was aborted.
_ABORT_POLL = 0.05


def _open_socket(host: str, port: int, deadline: float, attempt: _Attempt) -> socket.socket:
    """Connect a TCP socket to ``host:port`` (each address in turn) before ``deadline``, abortably.

    Raises:
        socket.timeout: not connected in time.
        OSError: no address accepted the connection, or the attempt was aborted.
    """
    error: OSError = OSError(f"no address found for {host}")
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
                raise OSError(code, os.strerror(code))
            while code != 0:
                if attempt.aborted:
                    raise OSError(errno.ECANCELED, "connecting was cancelled")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout("timed out")
                if _ready(sock, min(remaining, _ABORT_POLL), write=True):
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code:
                        raise OSError(code, os.strerror(code))
                    break
            sock.setblocking(True)
            attempt.watch(sock)
            return sock
        except socket.timeout:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            if attempt.aborted:
                raise
            error = exc
    raise error


class _EmptyResponse(Exception):
    """The connection closed before a single response byte: maybe a stale keep-alive connection."""


class HttpResponse:
    """A response whose body is read as it arrives.

    ``read()`` returns the whole body (bounded), ``read_some()`` the next bytes of a stream.
    ``close()`` returns the connection to its pool when the body was read to its end, and closes
    it otherwise; it is idempotent and may be called from another thread to abort a blocked read.

    Attributes:
        status: the status code.
        reason: the reason phrase.
        headers: the response headers.
        url: the URL that was requested.
    """

    def __init__(
        self,
        pool: ConnectionPool,
        conn: _Connection,
        url: str,
        method: str,
        status: int,
        reason: str,
        headers: Headers,
        version: str,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.url = url
        self._pool = pool
        self._conn: Optional[_Connection] = conn
        self._lock = threading.Lock()
        self._chunked = "chunked" in (headers.get("transfer-encoding") or "").lower()
        length = headers.get("content-length")
        self._remaining: Optional[int] = None
        if method == "HEAD" or status in (204, 304):
            self._remaining = 0
            self._chunked = False
        elif not self._chunked and length is not None:
            try:
                self._remaining = max(0, int(length))
            except ValueError:
                self._remaining = None
        self._chunk_left = 0
        self._done = self._remaining == 0
        connection = (headers.get("connection") or "").lower()
        self._reusable = version == "HTTP/1.1" and "close" not in connection and (self._chunked or self._remaining is not None)
        if self._done:
            self.close()

    def set_read_timeout(self, seconds: Optional[float]) -> None:
        """Change how long any one further read of this response may wait (``None``: no limit)."""
        conn = self._conn
        if conn is not None:
            try:
                conn.sock.settimeout(seconds)
            except OSError:
                pass

    @property
    def content_type(self) -> str:
        """The media type, lowercased, without parameters (``""`` when absent)."""
        return (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def done(self) -> bool:
        """Whether the body has been read to its end."""
        return self._done

    def read_some(self, max_bytes: int = 65536) -> bytes:
        """The next bytes of the body; ``b""`` at its end.

        Raises:
            HTTPError: the connection broke before the body ended.
        """
        conn = self._conn
        if self._done or conn is None:
            return b""
        try:
            data = self._read_chunk(conn, max_bytes) if self._chunked else self._read_plain(conn, max_bytes)
        except (OSError, ValueError) as exc:
            self.close()
            if isinstance(exc, socket.timeout):
                raise HTTPError(f"{redact_url(self.url)}: no data from the server within the read timeout", url=self.url) from exc
            raise HTTPError(
                f"{redact_url(self.url)}: the connection broke while reading the response ({exc})", url=self.url
            ) from exc
        if self.done:
            self.close()
        return data

    def _read_plain(self, conn: _Connection, max_bytes: int) -> bytes:
        want = max_bytes if self._remaining is None else min(max_bytes, self._remaining)
        data = conn.reader.read1(want)
        if not data:
            if self._remaining:
                self._reusable = False
                self._done = True
                raise ValueError(f"the body ended {self._remaining} bytes early")
            self._reusable = False
            self._done = True
            return b""
        if self._remaining is not None:
            self._remaining -= len(data)
            if self._remaining == 0:
                self._done = True
        return data

    def _read_chunk(self, conn: _Connection, max_bytes: int) -> bytes:
        reader = conn.reader
        if self._chunk_left == 0:
            line = reader.readline(_MAX_LINE + 1)
            if not line:
                raise ValueError("the chunked body ended early")
            digits = line.split(b";", 1)[0].strip()
            if not digits or digits.strip(b"0123456789abcdefABCDEF"):  # 1*HEXDIG: int() would take "-5", "0x5", "5_0"
                raise ValueError(f"invalid chunk size line {line[:40]!r}")
            size = int(digits, 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = reader.readline(_MAX_LINE + 1)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                self._done = True
                return b""
            self._chunk_left = size
        data = reader.read1(min(max_bytes, self._chunk_left))
        if not data:
            raise ValueError("the chunked body ended early")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and reader.readline(3) not in (b"\r\n", b"\n"):
            raise ValueError("a chunk is not followed by CRLF")
        return data

    def read(self, limit: int) -> bytes:
        """The rest of the body, at most ``limit`` bytes.

        Raises:
            MessageTooLarge: the body is longer than ``limit``.
            HTTPError: the connection broke first.
        """
        parts: List[bytes] = []
        size = 0
        while True:
            data = self.read_some(262144)
            if not data:
                return b"".join(parts)
            size += len(data)
            if size > limit:
                self.close()
                raise MessageTooLarge(f"{redact_url(self.url)}: the response body is larger than the {limit}-byte limit")
            parts.append(data)

    def json(self, limit: int = 1024 * 1024) -> Any:
        """The body parsed as JSON.

        Raises:
            HTTPError: the body is not JSON.
        """
        body = self.read(limit)
        try:
            return json.loads(body)
        except ValueError:
            raise HTTPError(
                f"{redact_url(self.url)}: HTTP {self.status}: the body is not JSON: {excerpt(body)}",
                status=self.status,
                url=self.url,
                body=excerpt(body),
            ) from None

    def excerpt(self, limit: int = 4096) -> str:
        """A short, printable excerpt of the rest of the body (for error messages)."""
        try:
            data = b""
            while len(data) < limit:
                more = self.read_some(limit - len(data))
                if not more:
                    break
                data += more
        except (HTTPError, MessageTooLarge):
            pass
        finally:
            self.close()
        return excerpt(data)

    def iter_bytes(self) -> Iterator[bytes]:
        """The rest of the body, as it arrives."""
        while True:
            data = self.read_some()
            if not data:
                return
            yield data

    def close(self) -> None:
        """Give the connection back when the body was consumed, else close it (idempotent)."""
        with self._lock:
            conn, self._conn = self._conn, None
            reusable = self._done and self._reusable
        if conn is not None:
            if reusable:
                self._pool._put_idle(conn)
            else:
                conn.close()

    def __enter__(self) -> HttpResponse:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HttpResponse {self.status} {redact_url(self.url)}>"


def excerpt(data: bytes, limit: int = BODY_EXCERPT_CHARS) -> str:
    r"""Printable text of ``data``, cut to ``limit`` characters, on one line.

    Example:
        >>> excerpt(b'{"error": "invalid_token"}\n')
        '{"error": "invalid_token"}'
    """
    text = data.decode("utf-8", "replace").strip()
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= limit else text[:limit] + "…"


class ConnectionPool:
    """Keep-alive HTTP/1.1 connections, a few idle ones per host, shared by any number of threads.

    There is no cap on connections in use: an MCP response (an SSE stream) can stay open for a
    long time, and a cap would let long streams starve short requests. Idle connections beyond
    ``max_idle`` per host are closed; an idle one is checked for EOF before it is reused.

    Args:
        connect_timeout: seconds to connect (TCP, proxy tunnel and TLS handshake).
        ssl_context: TLS settings; default: the system trust store (``SSL_CERT_FILE`` honoured).
        proxies: which proxy each URL goes through; default: the environment's.
        max_idle: idle connections kept per host.

    Example::

        pool = ConnectionPool(connect_timeout=5)
        with pool.send(HttpRequest("GET", "http://127.0.0.1:8000/health")) as response:
            print(response.status, response.read(1024))
    """

    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        ssl_context: Optional[ssl.SSLContext] = None,
        proxies: Optional[ProxySettings] = None,
        max_idle: int = DEFAULT_MAX_IDLE,
    ) -> None:
        self.connect_timeout = connect_timeout
        self._ssl_context = ssl_context
        self.proxies = ProxySettings.from_environment() if proxies is None else proxies
        self.max_idle = max_idle
        self._idle: Dict[Tuple[str, str, int, Optional[str]], List[_Connection]] = {}
        self._targets: Dict[str, Tuple[urllib.parse.SplitResult, Tuple[str, str, int, Optional[str]]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context (created on first use: loading the trust store takes milliseconds)."""
        context = self._ssl_context
        if context is None:
            context = self._ssl_context = ssl.create_default_context()
        return context

    def send(
        self,
        request: HttpRequest,
        *,
        read_timeout: Optional[float] = None,
        on_pending: Optional[Callable[[Optional[Callable[[], None]]], None]] = None,
    ) -> HttpResponse:
        """Send ``request`` and return its response once the status line and headers arrived.

        Args:
            request: what to send.
            read_timeout: most seconds any one read may wait (``None``: no limit; the caller
                bounds the exchange, e.g. by closing the response).
            on_pending: called with a function that aborts the attempt (from any thread) while
                the request is sent and its response head awaited, and with ``None`` once that
                is over: until there is a response to close, this is how to stop a silent server.
                The function does nothing once the attempt is over, so a late call is harmless
                (:class:`Abortable` keeps it for you).

        Raises:
            HTTPError: connecting, the TLS handshake or the exchange failed (``status`` is
                ``None``); the message says what happened, never a header value.
        """
        parts, key = self._target(request.url)
        scheme, _, _, proxy = key
        attempts = 2
        while True:
            attempts -= 1
            attempt = _Attempt()
            reused = False
            if on_pending is not None:
                on_pending(attempt.abort)  # connecting, a proxy tunnel and a TLS handshake can be stopped too
            try:
                conn, reused = self._get_connection(key, parts.hostname or "", request.url, attempt)
                attempt.watch(conn.sock)
                try:
                    conn.sock.settimeout(read_timeout)
                    conn.sock.sendall(self._encode(request, parts, conn.through_proxy and scheme == "http", proxy))
                    status, reason, headers, version = _read_head(conn.reader, request.url)
                except BaseException:
                    conn.close()
                    raise
            except _EmptyResponse:
                if reused and attempts > 0 and request.replayable and not attempt.aborted:
                    continue
                raise HTTPError(
                    f"{redact_url(request.url)}: the server closed the connection without answering", url=request.url
                ) from None
            except (OSError, ValueError) as exc:
                if attempt.aborted:
                    raise HTTPError(f"{redact_url(request.url)}: the request was cancelled", url=request.url) from exc
                if reused and attempts > 0 and request.replayable and not isinstance(exc, socket.timeout):
                    continue
                if isinstance(exc, socket.timeout):
                    raise HTTPError(
                        f"{redact_url(request.url)}: no answer from the server within {read_timeout:g} s", url=request.url
                    ) from exc
                raise HTTPError(f"{redact_url(request.url)}: the request failed: {exc}", url=request.url) from exc
            finally:
                attempt.finish()
                if on_pending is not None:
                    on_pending(None)
            conn.last_used = time.monotonic()
            return HttpResponse(self, conn, request.url, request.method, status, reason, headers, version)

    def _target(self, url: str) -> Tuple[urllib.parse.SplitResult, Tuple[str, str, int, Optional[str]]]:
        """The parsed URL and its connection key ``(scheme, host, port, proxy)``, remembered per URL."""
        known = self._targets.get(url)
        if known is not None:
            return known
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise HTTPError(f"not an http(s) URL: {redact_url(url)}", url=url)
        port = parts.port or (443 if scheme == "https" else 80)
        found = (parts, (scheme, parts.hostname.lower(), port, self.proxies.proxy_for(url)))
        if len(self._targets) >= _MAX_TARGETS:
            self._targets.clear()
        self._targets[url] = found
        return found

    @staticmethod
    def _encode(request: HttpRequest, parts: urllib.parse.SplitResult, absolute: bool, proxy: Optional[str]) -> bytes:
        target = request.url.split("#", 1)[0] if absolute else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        lines = [f"{request.method} {target} HTTP/1.1", f"Host: {host}"]
        headers = request.headers
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(f"{name}: {value}")
        if "user-agent" not in headers:
            lines.append(f"User-Agent: {USER_AGENT}")
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(request.body)}")
        if absolute and proxy:
            credentials = _proxy_credentials(proxy)
            if credentials:
                lines.append(f"Proxy-Authorization: Basic {credentials}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + request.body if request.body else head

    def _get_connection(
        self, key: Tuple[str, str, int, Optional[str]], hostname: str, url: str, attempt: _Attempt
    ) -> Tuple[_Connection, bool]:
        while True:
            with self._lock:
                if self._closed:
                    raise HTTPError("the HTTP connection pool is closed", url=url)
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                return self._connect(key, hostname, url, attempt), False
            if conn.alive():
                return conn, True
            conn.close()

    def _connect(self, key: Tuple[str, str, int, Optional[str]], hostname: str, url: str, attempt: _Attempt) -> _Connection:
        scheme, _, port, proxy = key
        deadline = time.monotonic() + self.connect_timeout
        target = redact_url(url)
        try:
            if proxy is not None:
                proxy_parts = urllib.parse.urlsplit(proxy)
                proxy_host = proxy_parts.hostname or ""
                proxy_port = proxy_parts.port or (443 if proxy_parts.scheme == "https" else 8080)
                sock = _open_socket(proxy_host, proxy_port, deadline, attempt)
                if scheme == "https":
                    try:
                        _tunnel(sock, hostname, port, proxy, deadline)
                    except BaseException:
                        sock.close()
                        raise
            else:
                sock = _open_socket(hostname, port, deadline, attempt)
        except (HTTPError, OSError) as exc:
            if attempt.aborted:
                raise HTTPError(f"{target}: connecting was cancelled", url=url) from exc
            if isinstance(exc, HTTPError):
                raise
            if isinstance(exc, socket.timeout):
                raise HTTPError(f"{target}: could not connect within {self.connect_timeout:g} s", url=url) from exc
            where = f"the proxy {redact_url(proxy)}" if proxy is not None else f"{hostname}:{port}"
            raise HTTPError(f"{target}: cannot connect to {where}: {exc.strerror or exc}", url=url) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if scheme == "https":
            sock = self._handshake(sock, hostname, url, deadline, attempt)
        return _Connection(key, sock, proxy is not None)

    def _handshake(self, sock: socket.socket, hostname: str, url: str, deadline: float, attempt: _Attempt) -> socket.socket:
        """The TLS handshake before ``deadline``; the TLS socket is watched by ``attempt`` first (abortable)."""
        target = redact_url(url)
        try:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            tls = self.ssl_context.wrap_socket(sock, server_hostname=hostname, do_handshake_on_connect=False)
        except BaseException:
            sock.close()
            raise
        try:
            attempt.watch(tls)
            tls.do_handshake()
        except ssl.SSLCertVerificationError as exc:
            tls.close()
            raise HTTPError(
                f"{target}: the server's TLS certificate was rejected ({exc.verify_message or exc.reason}); "
                "if it is signed by a private authority, point SSL_CERT_FILE at a bundle that includes it",
                url=url,
            ) from exc
        except (ssl.SSLError, OSError) as exc:
            tls.close()
            if attempt.aborted:
                raise HTTPError(f"{target}: connecting was cancelled", url=url) from exc
            raise HTTPError(f"{target}: the TLS handshake failed: {exc}", url=url) from exc
        except BaseException:
            tls.close()
            raise
        return tls

    def _put_idle(self, conn: _Connection) -> None:
        conn.last_used = time.monotonic()
        with self._lock:
            if not self._closed:
                idle = self._idle.setdefault(conn.key, [])
                if len(idle) < self.max_idle:
                    idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        """Close every idle connection; connections in use close when their responses do."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _proxy_credentials(proxy: str) -> Optional[str]:
    parts = urllib.parse.urlsplit(proxy)
    if parts.username is None:
        return None
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _tunnel(sock: socket.socket, host: str, port: int, proxy: str, deadline: float) -> None:
    """Open a ``CONNECT`` tunnel through an HTTP proxy (the caller closes ``sock`` on failure)."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", f"User-Agent: {USER_AGENT}"]
    credentials = _proxy_credentials(proxy)
    if credentials:
        lines.append(f"Proxy-Authorization: Basic {credentials}")
    where = redact_url(proxy)  # the proxy URL may carry a user and password: never in an error
    sock.settimeout(max(0.001, deadline - time.monotonic()))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    reader = sock.makefile("rb", buffering=0)
    try:
        status, reason, _headers, _version = _read_head(reader, where)
    except _EmptyResponse:
        raise HTTPError(f"the proxy {where} closed the connection instead of opening a tunnel", url=where) from None
    finally:
        reader.close()
    if status != 200:
        raise HTTPError(f"the proxy {where} refused the tunnel to {authority}: {status} {reason}", status=status, url=where)
