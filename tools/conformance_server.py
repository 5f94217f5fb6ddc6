#!/usr/bin/env python3
"""The server the official MCP conformance suite (``@modelcontextprotocol/conformance``) tests.

    .venv/bin/python tools/conformance_server.py [--host 127.0.0.1] [--port 8000] [--sse]
    node .../conformance/dist/index.js server --url http://127.0.0.1:8000/mcp

It serves MCP Streamable HTTP at ``/mcp`` with ``Server.run_http`` (until SIGTERM or Ctrl-C) and
offers what the suite's server scenarios (0.1.16) call, built with the public
``syncmcp.server`` API only:

- tools ``test_simple_text``, ``test_image_content``, ``test_audio_content``,
  ``test_embedded_resource``, ``test_multiple_content_types``, ``test_tool_with_logging``,
  ``test_error_handling``, ``test_tool_with_progress``, ``test_sampling``,
  ``test_elicitation``, ``test_elicitation_sep1034_defaults``,
  ``test_elicitation_sep1330_enums``; for the pending scenarios ``json_schema_2020_12_tool`` and
  ``test_reconnection``;
- resources ``test://static-text``, ``test://static-binary``, ``test://watched-resource`` and
  the template ``test://template/{id}/data``;
- prompts ``test_simple_prompt``, ``test_prompt_with_arguments`` (``arg1`` completes),
  ``test_prompt_with_embedded_resource`` and ``test_prompt_with_image``;
- logging (``logging/setLevel``), ``ping``, subscriptions: the framework's own.

``--sse`` makes every answer an SSE stream (``json_response=False``): the default answers with
JSON when nothing streams.

The texts are the ones the scenarios' descriptions give. ``tests/test_conformance_server.py``
runs the suite against it.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import time
import wave
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's syncmcp

from syncmcp.server import Audio, Context, EmbeddedResource, Image, Server, ToolError, ToolResult

#: Where the suite is pointed: ``http://HOST:PORT/mcp``.
MCP_PATH = "/mcp"
#: Seconds between the log messages and progress notifications ("~50ms" in the scenarios).
STEP_DELAY = 0.05


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def red_pixel_png() -> bytes:
    """A 1x1 red PNG (8-bit RGB), the "minimal test image" the scenarios suggest."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, depth, RGB, deflate, no filter, no interlace
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte 0, then one red pixel
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def silent_wav(milliseconds: int = 10, rate: int = 8000) -> bytes:
    """A short silent WAV (mono, 16-bit PCM), the "minimal test audio file"."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * (rate * milliseconds // 1000))
    return buffer.getvalue()


PNG = red_pixel_png()
WAV = silent_wav()

server = Server(
    "syncmcp-conformance",
    version="1.0.0",
    instructions="The server of syncmcp's run of the MCP conformance suite: test tools, resources and prompts.",
)

# ----------------------------------------------------------------------------- tools: content


@server.tool()
def test_simple_text() -> str:
    """Return a simple text (tools-call-simple-text)."""
    return "This is a simple text response for testing."


# These return a ToolResult: annotated ``-> Image`` (a dataclass) the framework would derive an
# output schema from Image's fields.


@server.tool()
def test_image_content() -> ToolResult:
    """Return a 1x1 red PNG image (tools-call-image)."""
    return ToolResult(Image(PNG, "image/png"))


@server.tool()
def test_audio_content() -> ToolResult:
    """Return a short silent WAV clip (tools-call-audio)."""
    return ToolResult(Audio(WAV, "audio/wav"))


@server.tool()
def test_embedded_resource() -> ToolResult:
    """Return an embedded text resource (tools-call-embedded-resource)."""
    return ToolResult(
        EmbeddedResource("test://embedded-resource", text="This is an embedded resource content.", mime_type="text/plain")
    )


@server.tool()
def test_multiple_content_types() -> ToolResult:
    """Return text, an image and an embedded resource together (tools-call-mixed-content)."""
    return ToolResult(
        [
            "Multiple content types test:",
            Image(PNG, "image/png"),
            EmbeddedResource("test://mixed-content-resource", text='{"test":"data","value":123}', mime_type="application/json"),
        ]
    )


@server.tool()
def test_error_handling() -> str:
    """Always fail: an ``isError`` result (tools-call-error)."""
    raise ToolError("This tool intentionally returns an error for testing")


# ----------------------------------------------------------------------------- tools: notifications


@server.tool()
def test_tool_with_logging(ctx: Context) -> str:
    """Send three info log messages, ~50 ms apart, while running (tools-call-with-logging)."""
    ctx.log("info", "Tool execution started")
    time.sleep(STEP_DELAY)
    ctx.log("info", "Tool processing data")
    time.sleep(STEP_DELAY)
    ctx.log("info", "Tool execution completed")
    return "Tool with logging executed successfully"


@server.tool()
def test_tool_with_progress(ctx: Context) -> str:
    """Report progress 0, 50 and 100 of 100, ~50 ms apart, when given a token (tools-call-with-progress)."""
    for step, progress in enumerate((0, 50, 100)):
        if step:
            time.sleep(STEP_DELAY)
        ctx.report_progress(progress, 100)
    return "Tool with progress executed successfully"


@server.tool()
def test_reconnection() -> str:
    """Answer after a short pause (server-sse-polling, a pending scenario).

    The scenario wants the server to close the POST's SSE stream before the result and send it
    on the client's GET reconnection (SEP-1699); the public API has no call for that, so the
    result comes on the POST stream.
    """
    time.sleep(STEP_DELAY * 2)
    return "Reconnection test completed successfully"


# ----------------------------------------------------------------------------- tools: asking the client


@server.tool()
def test_sampling(prompt: str, ctx: Context) -> str:
    """Ask the client's model to answer a prompt (tools-call-sampling).

    Args:
        prompt: The prompt to send to the LLM.
    """
    answer = ctx.sample(prompt, max_tokens=100)
    return f"LLM response: {answer.text}"


USER_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}


@server.tool()
def test_elicitation(message: str, ctx: Context) -> str:
    """Ask the user for a username and an email address (tools-call-elicitation).

    Args:
        message: The message to show the user.
    """
    answer = ctx.elicit(message, USER_SCHEMA)
    return f"User response: action={answer.action}, content={answer.content}"


DEFAULTS_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
    "required": [],
}


@server.tool()
def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Elicit a form whose fields all have default values (elicitation-sep1034-defaults)."""
    answer = ctx.elicit("Please review and update the form fields with defaults", DEFAULTS_SCHEMA)
    return f"Elicitation completed: action={answer.action}, content={answer.content}"


def _titled(pairs: Sequence[Tuple[str, str]]) -> List[Dict[str, str]]:
    return [{"const": value, "title": title} for value, title in pairs]


ENUMS_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {
            "type": "string",
            "description": "Untitled single-select",
            "enum": ["option1", "option2", "option3"],
        },
        "titledSingle": {
            "type": "string",
            "description": "Titled single-select",
            "oneOf": _titled([("value1", "First Option"), ("value2", "Second Option"), ("value3", "Third Option")]),
        },
        "legacyEnum": {
            "type": "string",
            "description": "Legacy titled enum (deprecated enumNames)",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "description": "Untitled multi-select",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "description": "Titled multi-select",
            "items": {"anyOf": _titled([("value1", "First Choice"), ("value2", "Second Choice"), ("value3", "Third Choice")])},
        },
    },
    "required": [],
}


@server.tool()
def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Elicit a form with the five kinds of enum fields (elicitation-sep1330-enums)."""
    answer = ctx.elicit("Please select options from the enum fields", ENUMS_SCHEMA)
    return f"Elicitation completed: action={answer.action}, content={answer.content}"


# ----------------------------------------------------------------------------- tools: schemas

JSON_SCHEMA_2020_12: Dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


@server.tool(description="Tool with JSON Schema 2020-12 features", input_schema=JSON_SCHEMA_2020_12)
def json_schema_2020_12_tool(**arguments: Any) -> Dict[str, Any]:
    """Echo its arguments (json-schema-2020-12, a pending scenario: only the listing is checked)."""
    return dict(arguments)


# ----------------------------------------------------------------------------- resources


@server.resource("test://static-text", name="static-text", mime_type="text/plain")
def static_text() -> str:
    """A static text resource (resources-read-text)."""
    return "This is the content of the static text resource."


@server.resource("test://static-binary", name="static-binary", mime_type="image/png")
def static_binary() -> bytes:
    """A static binary resource: a 1x1 red PNG (resources-read-binary)."""
    return PNG


@server.resource("test://watched-resource", name="watched-resource", mime_type="text/plain")
def watched_resource() -> str:
    """A resource to subscribe to (resources-subscribe, resources-unsubscribe)."""
    return "Watched resource content"


@server.resource_template("test://template/{id}/data", name="template-data", mime_type="application/json")
def template_data(id: str) -> Dict[str, Any]:
    """Data for an id, substituted from the URI (resources-templates-read).

    Args:
        id: The id in the URI.
    """
    return {"id": id, "templateTest": True, "data": f"Data for ID: {id}"}


# ----------------------------------------------------------------------------- prompts

#: What ``arg1`` of ``test_prompt_with_arguments`` completes to (by prefix).
ARG1_COMPLETIONS = ("paris", "park", "party", "test", "testValue1", "testing")


@server.prompt()
def test_simple_prompt() -> str:
    """A simple prompt without arguments (prompts-get-simple)."""
    return "This is a simple prompt for testing."


@server.prompt(completions={"arg1": list(ARG1_COMPLETIONS)})
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    """A prompt with two arguments (prompts-get-with-args, completion-complete).

    Args:
        arg1: First test argument.
        arg2: Second test argument.
    """
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt()
def test_prompt_with_embedded_resource(resourceUri: str) -> List[Union[str, Tuple[str, EmbeddedResource]]]:
    """A prompt embedding a resource (prompts-get-embedded-resource).

    Args:
        resourceUri: URI of the resource to embed.
    """
    embedded = EmbeddedResource(resourceUri, text="Embedded resource content for testing.", mime_type="text/plain")
    return [("user", embedded), "Please process the embedded resource above."]


@server.prompt()
def test_prompt_with_image() -> List[Union[str, Tuple[str, Image]]]:
    """A prompt with an image (prompts-get-with-image)."""
    return [("user", Image(PNG, "image/png")), "Please analyze the image above."]


# ----------------------------------------------------------------------------- serving


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--sse", action="store_true", help="answer every request with an SSE stream, never plain JSON")
    options = parser.parse_args(argv)
    print(f"serving MCP on http://{options.host}:{options.port}{MCP_PATH}", file=sys.stderr, flush=True)
    server.run_http(host=options.host, port=options.port, path=MCP_PATH, json_response=not options.sse)


if __name__ == "__main__":
    main()
