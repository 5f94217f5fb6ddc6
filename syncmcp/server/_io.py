r"""The server's side of stdio: a protected stdout, an interruptible stdin, answers to bad input.

* :class:`StdioGuard` keeps the protocol stream clean: it duplicates fd 1 for the protocol,
  then points fd 1 (and ``sys.stdout``) at stderr and fd 0 (and ``sys.stdin``) at the null
  device, so a handler's ``print``, a C extension writing to fd 1, or a child process cannot
  corrupt the stream, and nothing but the server reads the client's messages.
* :class:`WakeableReader` reads lines from a descriptor and returns EOF as soon as
  :meth:`~WakeableReader.close` is called from another thread (a blocked ``read`` would keep
  the reader thread alive until the client closes the pipe).
* :class:`ServerStreamTransport` answers a line that is not JSON with -32700 and a value that
  is not a message with -32600 (the endpoint only logs them), answers a batch (an array,
  JSON-RPC 2.0 / MCP 2025-03-26) with one array of responses, and at the end of the client's
  input lets requests still running send their responses (a client may close stdin and keep
  reading stdout) for up to ``drain_timeout`` seconds before reporting EOF.

Example:
    >>> import io
    >>> out = io.BytesIO()
    >>> t = ServerStreamTransport(io.BytesIO(b"not json\n"), out)
    >>> try:
    ...     t.receive()
    ... except ValueError:
    ...     pass
    >>> out.getvalue()
    b'{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error: not JSON: Expecting value: line 1 column 1 (char 0)"}}\n'
"""

from __future__ import annotations

import io
import os
import sys
import threading
from typing import IO, Any, Dict, List, Optional, Set, Tuple

from .._jsonrpc import ErrorCode, InvalidMessage, make_error
from .._transport import DEFAULT_MAX_MESSAGE_SIZE, StreamTransport
from .._wakeable import WakeableReader

__all__ = ["ServerStreamTransport", "StdioGuard", "WakeableReader"]


class _Batch:
    __slots__ = ("pending", "responses")

    def __init__(self, ids: Set[Any]) -> None:
        self.pending = ids
        self.responses: List[Dict[str, Any]] = []


class ServerStreamTransport(StreamTransport):
    """A :class:`~syncmcp.StreamTransport` for the server side (see the module docs).

    Args:
        reader: the stream of client messages (or a :class:`WakeableReader`).
        writer: the stream for server messages.
        name: for logs.
        max_message_size: the longest accepted line in bytes.
        drain_timeout: at EOF, seconds to wait for the responses of requests still running.

    Example:
        reader = WakeableReader(os.dup(0))
        connection = server.connect(ServerStreamTransport(reader, io.BytesIO()))
        ...
        connection.close()
        reader.release()            # once the reading thread has stopped
    """

    def __init__(
        self,
        reader: Any,
        writer: Optional[IO[bytes]],
        *,
        name: str = "stdio",
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        drain_timeout: float = 0.0,
    ) -> None:
        super().__init__(reader, writer, name=name, max_message_size=max_message_size)
        self._wakeable = reader if isinstance(reader, WakeableReader) else None
        self._batch_lock = threading.Lock()
        self._batches: Dict[Any, _Batch] = {}
        self.drain_timeout = drain_timeout
        # Requests read and not yet answered (ids), so EOF can wait for their responses.
        self._open = threading.Condition()
        self._unanswered: Set[Any] = set()
        self._closing = False

    def receive(self) -> Any:
        """The next message (or batch list); answers what is not one, see the module docs.

        Raises:
            InvalidMessage: the line is not JSON or is ``null`` (already answered with -32700 or -32600).
        """
        while True:
            try:
                value = super().receive()
            except InvalidMessage as exc:
                if exc.code == ErrorCode.PARSE_ERROR:
                    self._reply(make_error(None, ErrorCode.PARSE_ERROR, f"Parse error: {exc}"))
                else:  # a null line
                    self._reply(make_error(None, ErrorCode.INVALID_REQUEST, "Invalid Request: a message must be a JSON object"))
                raise
            if isinstance(value, list):
                if not value:
                    self._reply(make_error(None, ErrorCode.INVALID_REQUEST, "Invalid Request: empty batch"))
                    continue
                self._track_batch(value)
                return value
            if value is None:
                self._drain()
                return None
            if not isinstance(value, dict):
                self._reply(make_error(None, ErrorCode.INVALID_REQUEST, "Invalid Request: a message must be a JSON object"))
                continue
            if value.get("method") == "notifications/cancelled":
                self._forget(value)
            elif value.get("method") is not None and _hashable(value.get("id")) and value.get("method") != "subscriptions/listen":
                # A listen stream is answered only when it ends, which closing the connection does:
                # waiting for it at EOF would only delay the exit by the whole drain timeout.
                self._opened([value["id"]])
            return value

    def _opened(self, ids: List[Any]) -> None:
        if self.drain_timeout > 0:
            with self._open:
                self._unanswered.update(ids)

    def _answered(self, ids: List[Any]) -> None:
        if self.drain_timeout > 0 and self._unanswered:
            with self._open:
                self._unanswered.difference_update(ids)
                if not self._unanswered:
                    self._open.notify_all()

    def _drain(self) -> None:
        """At EOF: wait (bounded) until every request read so far has been answered."""
        if self.drain_timeout <= 0:
            return
        with self._open:
            self._open.wait_for(lambda: not self._unanswered or self._closing, timeout=self.drain_timeout)

    def send(self, message: Any) -> None:
        """Write one message; a response to a batched request waits for the rest of its batch."""
        try:
            self._send_or_hold(message)
        finally:
            if isinstance(message, dict) and "method" not in message:
                self._answered([message.get("id")])
            elif isinstance(message, list):
                self._answered([item.get("id") for item in message if isinstance(item, dict)])

    def _send_or_hold(self, message: Any) -> None:
        if isinstance(message, dict) and "method" not in message and self._batches:
            request_id = message.get("id")
            complete: Optional[List[Dict[str, Any]]] = None
            with self._batch_lock:
                batch = self._batches.pop(request_id, None) if _hashable(request_id) else None
                if batch is not None:
                    batch.responses.append(message)
                    batch.pending.discard(request_id)
                    if not batch.pending:
                        complete = batch.responses
            if batch is None:
                super().send(message)
            elif complete is not None:
                super().send(complete)
            return
        super().send(message)

    def close(self) -> None:
        """Close both directions, waking a reader blocked on the client's stream (or draining)."""
        with self._open:
            self._closing = True
            self._open.notify_all()
        if self._wakeable is not None:
            self._wakeable.close()
        super().close()

    def _reply(self, message: Dict[str, Any]) -> None:
        try:
            super().send(message)
        except Exception:  # the client is gone; nothing to tell it
            pass

    def _track_batch(self, items: List[Any]) -> None:
        ids: Set[Any] = set()
        for item in items:
            # What the endpoint answers: a method (null is none) and an id it can read.
            if isinstance(item, dict) and item.get("method") is not None and _hashable(item.get("id")):
                ids.add(item["id"])
        if not ids:
            return
        with self._batch_lock:
            # An id still open in an earlier batch stays there: taken over, it would leave that
            # batch waiting for a response that never comes, holding its other responses forever.
            fresh = {request_id for request_id in ids if request_id not in self._batches}
            batch = _Batch(fresh)
            for request_id in fresh:
                self._batches[request_id] = batch
        self._opened(list(ids))
        for item in items:
            if isinstance(item, dict) and item.get("method") == "notifications/cancelled":
                self._forget(item)

    def _forget(self, notification: Dict[str, Any]) -> None:
        """A cancelled request is never answered: stop waiting for it in its batch."""
        params = notification.get("params")
        request_id = params.get("requestId") if isinstance(params, dict) else None
        if not _hashable(request_id):
            return
        self._answered([request_id])  # a cancelled request is never answered
        if not self._batches:
            return
        complete: Optional[List[Dict[str, Any]]] = None
        with self._batch_lock:
            batch = self._batches.pop(request_id, None)
            if batch is not None:
                batch.pending.discard(request_id)
                if not batch.pending and batch.responses:
                    complete = batch.responses
        if complete is not None:
            self._reply_batch(complete)

    def _reply_batch(self, responses: List[Dict[str, Any]]) -> None:
        try:
            super().send(responses)
        except Exception:
            pass


def _hashable(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


class StdioGuard:
    """Redirect the process's stdio while a server owns the real stdin/stdout (a context manager).

    On entry it returns ``(protocol_in_fd, protocol_out_fd)``: private duplicates of fds 0 and 1.
    Meanwhile fd 1 and ``sys.stdout`` write to stderr, fd 0 and ``sys.stdin`` read the null
    device. On exit everything is restored.

    Example:
        with StdioGuard() as (in_fd, out_fd):
            print("this goes to stderr")
    """

    def __init__(self) -> None:
        self._saved: Optional[Tuple[int, int]] = None
        self._streams: Optional[Tuple[Any, Any]] = None

    def __enter__(self) -> Tuple[int, int]:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        saved_in, saved_out = os.dup(0), os.dup(1)
        protocol_in, protocol_out = os.dup(0), os.dup(1)
        os.dup2(2, 1)
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(null, 0)
        finally:
            os.close(null)
        self._saved = (saved_in, saved_out)
        self._streams = (sys.stdin, sys.stdout)
        sys.stdout = sys.stderr
        sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
        return protocol_in, protocol_out

    def __exit__(self, *exc_info: Any) -> None:
        if self._streams is not None:
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            sys.stdin, sys.stdout = self._streams
            self._streams = None
        if self._saved is not None:
            saved_in, saved_out = self._saved
            self._saved = None
            os.dup2(saved_in, 0)
            os.dup2(saved_out, 1)
            os.close(saved_in)
            os.close(saved_out)
