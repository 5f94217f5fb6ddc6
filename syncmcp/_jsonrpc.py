r"""JSON-RPC 2.0 without I/O: building, encoding, decoding and classifying messages.

This module knows nothing of MCP, threads or pipes. Bytes go in, message objects come out;
message objects go in, bytes come out. The wire framing is the MCP stdio one: one compact JSON
document per line, UTF-8, terminated by ``\n``, with no newline inside a message.

Example:
    >>> line = encode_message(make_request(1, "ping"))
    >>> line
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
    >>> classify(decode_line(line))
    Request(id=1, method='ping', params=None)
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from typing import Any, Callable, Dict, Optional, Union

__all__ = [
    "ErrorCode",
    "ErrorResponse",
    "InvalidMessage",
    "Message",
    "Notification",
    "Request",
    "RequestId",
    "Response",
    "classify",
    "decode_line",
    "encode_message",
    "make_error",
    "make_notification",
    "make_request",
    "make_result",
]

RequestId = Union[int, str]
JSONObject = Dict[str, Any]


class ErrorCode:
    """JSON-RPC and MCP error codes (plain ints, so they compare with what peers send).

    Example:
        >>> ErrorCode.METHOD_NOT_FOUND
        -32601
    """

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    #: MCP up to 2025-11-25: the resource does not exist (2026-07-28 uses INVALID_PARAMS).
    RESOURCE_NOT_FOUND = -32002
    #: MCP 2025-11-25: the request needs URL-mode elicitations first.
    URL_ELICITATION_REQUIRED = -32042
    #: MCP 2026-07-28: an HTTP header disagrees with the body.
    HEADER_MISMATCH = -32020
    #: MCP 2026-07-28: the request needs a client capability it did not declare.
    MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
    #: MCP 2026-07-28: the protocol version in ``_meta`` is not supported.
    UNSUPPORTED_PROTOCOL_VERSION = -32022


class InvalidMessage(ValueError):
    """A line or JSON value is not a valid JSON-RPC 2.0 message.

    ``request_id`` is set when the value looked like a request whose id could be read, so the
    receiver can answer it with an ``INVALID_REQUEST`` error.
    """

    def __init__(self, reason: str, *, request_id: Optional[RequestId] = None, code: int = ErrorCode.INVALID_REQUEST):
        super().__init__(reason)
        self.request_id = request_id
        self.code = code


class Request:
    """An incoming or outgoing request: it has an ``id`` and expects exactly one response."""

    __slots__ = ("id", "method", "params")

    def __init__(self, id: RequestId, method: str, params: Optional[JSONObject]) -> None:
        self.id = id
        self.method = method
        self.params = params

    def __repr__(self) -> str:
        return f"Request(id={self.id!r}, method={self.method!r}, params={self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Request) and (self.id, self.method, self.params) == (other.id, other.method, other.params)


class Notification:
    """A message with a method and no id: the receiver never answers it."""

    __slots__ = ("method", "params")

    def __init__(self, method: str, params: Optional[JSONObject]) -> None:
        self.method = method
        self.params = params

    def __repr__(self) -> str:
        return f"Notification(method={self.method!r}, params={self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Notification) and (self.method, self.params) == (other.method, other.params)


class Response:
    """A successful response: ``result`` is the JSON value the peer returned."""

    __slots__ = ("id", "result")

    def __init__(self, id: RequestId, result: Any) -> None:
        self.id = id
        self.result = result

    def __repr__(self) -> str:
        return f"Response(id={self.id!r}, result={self.result!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Response) and (self.id, self.result) == (other.id, other.result)


class ErrorResponse:
    """An error response; ``id`` is ``None`` only when the peer could not read the request id."""

    __slots__ = ("code", "data", "id", "message")

    def __init__(self, id: Optional[RequestId], code: int, message: str, data: Any = None) -> None:
        self.id = id
        self.code = code
        self.message = message
        self.data = data

    def __repr__(self) -> str:
        return f"ErrorResponse(id={self.id!r}, code={self.code!r}, message={self.message!r}, data={self.data!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ErrorResponse) and (self.id, self.code, self.message, self.data) == (
            other.id,
            other.code,
            other.message,
            other.data,
        )


Message = Union[Request, Notification, Response, ErrorResponse]


def _compact_encoder() -> Callable[[Any], str]:
    """``json`` encoding that is compact, strict (no NaN) and keeps non-ASCII text as is.

    With the C accelerator, one C encoder is made here and called directly: what
    ``JSONEncoder.encode`` would make anew for every message, through two Python calls. A
    structure that contains itself ends in ``RecursionError`` rather than ``ValueError``.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return encoder.encode
    once = make(None, encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    join = "".join

    def encode(value: Any) -> str:
        return join(once(value, 0))

    return encode


def _line_decoder() -> Callable[[str], Any]:
    """``json`` decoding of one line: the C scanner straight away, ``JSONDecoder.decode`` for the rest.

    A line that is one JSON value followed by its newline (every well-formed message) costs
    one C call; anything else (leading blanks, trailing data, bad JSON) goes through the full
    decoder, which accepts or refuses it exactly as before.
    """
    decoder = json.JSONDecoder()
    full = decoder.decode
    make = getattr(json.scanner, "c_make_scanner", None)
    if make is None:  # pragma: no cover - CPython always has it
        return full
    scan = make(decoder)

    def decode(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except Exception:  # StopIteration, JSONDecodeError, RecursionError: let the full decoder say
            return full(text)
        if end == len(text) or text[end:] in ("\n", "\r\n"):
            return value
        return full(text)

    return decode


_dumps = _compact_encoder()
_decode = _line_decoder()


def make_request(request_id: RequestId, method: str, params: Optional[JSONObject] = None) -> JSONObject:
    """Build a request object; ``params`` is omitted when ``None``."""
    message: JSONObject = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def make_notification(method: str, params: Optional[JSONObject] = None) -> JSONObject:
    """Build a notification object; ``params`` is omitted when ``None``."""
    message: JSONObject = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def make_result(request_id: RequestId, result: Any) -> JSONObject:
    """Build a success response."""
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def make_error(request_id: Optional[RequestId], code: int, message: str, data: Any = None) -> JSONObject:
    """Build an error response; ``request_id`` ``None`` omits the id (unreadable request)."""
    error: JSONObject = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    response: JSONObject = {"jsonrpc": "2.0"}
    if request_id is not None:
        response["id"] = request_id
    response["error"] = error
    return response


def encode_message(message: Any) -> bytes:
    """Encode one message (or a batch list) as a single newline-terminated UTF-8 line.

    Raises:
        ValueError: the value is not JSON-serialisable (NaN and infinities included) or the
            encoding would contain a raw newline.
    """
    try:
        text = _dumps(message)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"message is not JSON-serialisable: {exc}") from exc
    except RecursionError as exc:  # the encoder does not look for cycles: one ends here
        raise ValueError("message is not JSON-serialisable: it contains itself or is nested too deeply") from exc
    data = text.encode("utf-8", "surrogatepass")
    # Compact JSON escapes every control character inside strings, so this only fires if the
    # encoder is ever swapped for one that pretty-prints; the framing would break silently.
    if b"\n" in data:
        raise ValueError("encoded message contains a newline, which would break the line framing")
    return data + b"\n"


def decode_line(line: bytes) -> Any:
    """Decode one framed line into its JSON value: an object for a message, a list for a batch.

    Invalid UTF-8 is replaced rather than fatal.

    Raises:
        InvalidMessage: the line is not JSON (code ``PARSE_ERROR``), or is ``null`` (code
            ``INVALID_REQUEST``: transports return ``None`` for EOF, so a ``null`` line must not
            come out as a value).
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("utf-8", "replace")
    if text.startswith("\ufeff"):  # a byte-order mark, as json.loads(bytes) tolerates it
        text = text[1:]
    try:
        value = _decode(text)  # from str: no encoding sniffing per line
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise InvalidMessage(f"not JSON: {exc}", code=ErrorCode.PARSE_ERROR) from exc
    if value is None:
        raise InvalidMessage("expected a JSON object, got null")
    return value


def _valid_id(value: Any) -> bool:
    # bool is an int subclass but never a valid id.
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def classify(value: Any) -> Message:
    """Turn one decoded JSON value into a message object.

    The result is a :class:`Request`, :class:`Notification`, :class:`Response` or
    :class:`ErrorResponse`.

    Unknown members are ignored (forward compatibility). A missing ``"jsonrpc": "2.0"`` is
    tolerated, since a few servers omit it; everything else is checked.

    Raises:
        InvalidMessage: the value is not a JSON-RPC message.
    """
    if not isinstance(value, dict):
        raise InvalidMessage(f"expected a JSON object, got {type(value).__name__}")
    version = value.get("jsonrpc", "2.0")
    method = value.get("method")
    has_id = "id" in value
    request_id: Any = value.get("id")
    if method is not None:
        readable_id = request_id if has_id and _valid_id(request_id) else None
        if version != "2.0":
            raise InvalidMessage(f"unsupported jsonrpc version {version!r}", request_id=readable_id)
        if not isinstance(method, str):
            raise InvalidMessage("method must be a string", request_id=readable_id)
        params = value.get("params")
        if params is not None and not isinstance(params, dict):
            # JSON-RPC allows positional (array) params; MCP never uses them.
            raise InvalidMessage("params must be an object", request_id=readable_id)
        if not has_id:
            return Notification(method, params)
        if not _valid_id(request_id):
            raise InvalidMessage(f"invalid request id {request_id!r}")
        return Request(request_id, method, params)
    if "result" in value:
        if not _valid_id(request_id):
            raise InvalidMessage(f"response with invalid id {request_id!r}")
        return Response(request_id, value["result"])
    if "error" in value:
        error = value["error"]
        if not isinstance(error, dict):
            raise InvalidMessage("error member must be an object")
        code = error.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            raise InvalidMessage(f"error code must be an integer, got {code!r}")
        message = error.get("message")
        if not isinstance(message, str):
            message = str(message) if message is not None else ""
        if request_id is not None and not _valid_id(request_id):
            raise InvalidMessage(f"error response with invalid id {request_id!r}")
        return ErrorResponse(request_id, code, message, error.get("data"))
    raise InvalidMessage("neither a request, a notification nor a response")
