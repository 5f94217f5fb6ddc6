"""The sans-I/O JSON-RPC layer: encoding, framing, decoding, classification."""

from __future__ import annotations

import json

import pytest

from syncmcp._jsonrpc import (
    ErrorCode,
    ErrorResponse,
    InvalidMessage,
    Notification,
    Request,
    Response,
    classify,
    decode_line,
    encode_message,
    make_error,
    make_notification,
    make_request,
    make_result,
)


def test_encoded_message_is_one_compact_line() -> None:
    line = encode_message(make_request(7, "tools/call", {"name": "echo", "arguments": {"text": "a\nb\r\u2028"}}))
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert b" " not in line.replace(b"\\u2028", b"")  # compact separators
    assert json.loads(line) == {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "a\nb\r\u2028"}}}


def test_non_ascii_is_sent_as_utf8() -> None:
    line = encode_message(make_notification("x", {"text": "données ✓"}))
    assert "données ✓".encode() in line


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), {1: {2, 3}}])
def test_unencodable_values_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        encode_message(make_request(1, "x", {"v": value}))


def test_params_are_omitted_when_none() -> None:
    assert "params" not in make_request(1, "ping")
    assert "params" not in make_notification("notifications/initialized")
    assert make_notification("m", {}) == {"jsonrpc": "2.0", "method": "m", "params": {}}


def test_error_response_without_id_omits_it_and_keeps_data() -> None:
    assert make_error(None, ErrorCode.PARSE_ERROR, "bad") == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "bad"}}
    assert make_error(3, -32602, "bad", {"field": "x"})["error"]["data"] == {"field": "x"}
    assert make_result(0, {}) == {"jsonrpc": "2.0", "id": 0, "result": {}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"jsonrpc": "2.0", "id": 0, "method": "roots/list"}, Request(0, "roots/list", None)),
        ({"jsonrpc": "2.0", "id": "abc", "method": "ping", "params": {}}, Request("abc", "ping", {})),
        ({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}}, Notification("notifications/progress", {"progress": 1})),
        ({"jsonrpc": "2.0", "id": 5, "result": {"tools": []}}, Response(5, {"tools": []})),
        ({"jsonrpc": "2.0", "id": 5, "result": None}, Response(5, None)),
        ({"jsonrpc": "2.0", "id": 5, "error": {"code": -32601, "message": "nope", "data": [1]}}, ErrorResponse(5, -32601, "nope", [1])),
        ({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse"}}, ErrorResponse(None, -32700, "parse")),
        ({"id": 1, "method": "ping"}, Request(1, "ping", None)),  # tolerated: missing "jsonrpc"
        ({"jsonrpc": "2.0", "id": 9, "result": {}, "extra": True}, Response(9, {})),  # unknown members ignored
    ],
)
def test_classify_recognises_every_kind(value: dict, expected: object) -> None:
    assert classify(value) == expected


def test_id_zero_is_a_request_not_a_notification() -> None:
    assert isinstance(classify({"jsonrpc": "2.0", "id": 0, "method": "x"}), Request)


@pytest.mark.parametrize(
    ("value", "readable_id"),
    [
        ([1, 2], None),
        ("text", None),
        ({"jsonrpc": "2.0"}, None),
        ({"jsonrpc": "1.0", "id": 4, "method": "x"}, 4),
        ({"jsonrpc": "2.0", "id": 4, "method": 12}, 4),
        ({"jsonrpc": "2.0", "id": 4, "method": "x", "params": [1, 2]}, 4),
        ({"jsonrpc": "2.0", "id": True, "method": "x"}, None),
        ({"jsonrpc": "2.0", "id": 1.5, "result": {}}, None),
        ({"jsonrpc": "2.0", "id": 1, "error": "boom"}, None),
        ({"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "m"}}, None),
    ],
)
def test_classify_rejects_invalid_messages(value: object, readable_id: object) -> None:
    with pytest.raises(InvalidMessage) as info:
        classify(value)
    assert info.value.request_id == readable_id


def test_decode_line_returns_objects_and_batches() -> None:
    assert decode_line(b'{"a":1}\n') == {"a": 1}
    assert decode_line(b'[{"a":1},{"b":2}]\n') == [{"a": 1}, {"b": 2}]


def test_decode_line_rejects_non_json_with_parse_error() -> None:
    with pytest.raises(InvalidMessage) as info:
        decode_line(b"Server started on stdio\n")
    assert info.value.code == ErrorCode.PARSE_ERROR


def test_decode_line_replaces_invalid_utf8_instead_of_failing() -> None:
    value = decode_line(b'{"text":"bad \xff bytes"}\n')
    assert value == {"text": "bad \ufffd bytes"}


def test_a_structure_that_contains_itself_is_refused_not_crashed_on() -> None:
    looped: dict = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        encode_message(make_request(1, "x", looped))


def test_encoding_matches_the_json_module() -> None:
    message = make_request(3, "tools/call", {"name": "é", "arguments": {"n": [1, 2.5, True, None], "s": "\u2028\t"}})
    expected = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert encode_message(message) == expected.encode() + b"\n"


@pytest.mark.parametrize(
    "line, expected",
    [
        (b'{"a":1}', {"a": 1}),  # no newline at all
        (b'{"a":1}\r\n', {"a": 1}),
        (b'  {"a":1}\n', {"a": 1}),  # leading blanks: the full decoder
        (b'{"a":1}  \t\n', {"a": 1}),  # trailing blanks: the full decoder
        (b'\xef\xbb\xbf{"a":1}\n', {"a": 1}),  # a byte-order mark
        (b'"text"\n', "text"),
    ],
)
def test_decode_line_accepts_what_json_accepts_around_a_value(line: bytes, expected: object) -> None:
    assert decode_line(line) == expected


@pytest.mark.parametrize("line", [b'{"a":1}{"b":2}\n', b'{"a":1} x\n', b'{"a":\n', b"[" * 100_000 + b"\n"])
def test_decode_line_refuses_extra_data_truncated_and_absurdly_deep_values(line: bytes) -> None:
    with pytest.raises(InvalidMessage) as info:
        decode_line(line)
    assert info.value.code == ErrorCode.PARSE_ERROR
