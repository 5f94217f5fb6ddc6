"""Drive a syncmcp server with the official ``mcp`` SDK client; print what happened as one JSON object.

Run with the peers' Python (it has ``mcp`` 2.x)::

    python drive_server.py --mode legacy|auto --scenario fixture|workspace [--workdir DIR] -- CMD ARGS...
    python drive_server.py --mode legacy|auto --scenario fixture --url http://127.0.0.1:PORT/mcp [--stateless]
    python drive_server.py --mode legacy --scenario group --url http://127.0.0.1:PORT/mcp

``--mode legacy`` forces the ``initialize`` handshake; ``--mode auto`` lets the client probe
``server/discover`` first (a 2026-07-28 server is then used in the modern era). With ``--url``
the client connects over Streamable HTTP (the SDK's ``streamable_http_client``) instead of
starting a stdio process; it records every HTTP exchange and, after the client closed, whether
the server still knows its session (``--status-url``: the test server's ``GET /status``, asked
while connected). ``--scenario group`` drives the SDK's ``ClientSessionGroup`` instead of
``Client`` (a smoke test); ``--scenario resume`` makes one call whose stream the test cuts.
``--stateless`` says the server keeps no legacy sessions:
the scenario then does not wait for what no stream can carry (change notifications, a
cancellation by ``notifications/cancelled``). The pytest side asserts on the printed JSON; this
script only records, it never decides pass or fail.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from typing import Any, Dict, List, Optional

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.session_group import ClientSessionGroup, StreamableHttpParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

warnings.simplefilter("ignore")  # deprecation warnings about roots/sampling/subscribe in 2026

TIMEOUT = 60


def dump(model: Any) -> Any:
    if isinstance(model, list):
        return [dump(item) for item in model]
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return model


async def error_of(awaitable: Any) -> Dict[str, Any]:
    try:
        result = await awaitable
    except MCPError as exc:
        return {"code": exc.code, "message": exc.error.message}
    return {"result": dump(result)}


async def all_pages(fetch: Any, key: str) -> Dict[str, Any]:
    items: List[Any] = []
    pages = 0
    cursor: Optional[str] = None
    while True:
        page = await fetch(cursor=cursor, cache_mode="refresh")
        pages += 1
        items.extend(dump(getattr(page, key)))
        cursor = page.next_cursor
        if cursor is None or pages > 50:
            return {"items": items, "pages": pages}


class Recorder:
    """Callbacks the client gives the server, recording what they saw."""

    def __init__(self) -> None:
        self.logs: List[Dict[str, Any]] = []
        self.notifications: List[str] = []
        self.progress: List[List[Any]] = []
        self.elicitations: List[Dict[str, Any]] = []
        self.samplings: List[Dict[str, Any]] = []
        self.parked = anyio.Event()
        self.updated = anyio.Event()
        self.tools_changed = anyio.Event()

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append({"level": params.level, "logger": params.logger, "data": params.data})

    async def on_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if method is not None:
            self.notifications.append(method)
        if method == "notifications/resources/updated":
            self.updated.set()
        elif method == "notifications/tools/list_changed":
            self.tools_changed.set()

    async def on_elicit(self, context: Any, params: Any) -> types.ElicitResult:
        self.elicitations.append(dump(params))
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def on_sample(self, context: Any, params: Any) -> types.CreateMessageResult:
        self.samplings.append(dump(params))
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="short summary"), model="peer-model"
        )

    async def on_roots(self, context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///peer/root", name="peer root")])

    async def on_progress(self, progress: float, total: Optional[float], message: Optional[str]) -> None:
        self.progress.append([progress, total, message])
        if message == "parked":
            self.parked.set()


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


async def fixture(client: Client, rec: Recorder, modern: bool, stateless: bool = False) -> Dict[str, Any]:
    """Every feature of ``tests/servers/framework_server.py``; ``stateless``: a legacy HTTP
    server without sessions (nothing can reach the client outside a request's own stream)."""
    no_session = stateless and not modern
    out: Dict[str, Any] = {}
    out["tools"] = await all_pages(client.list_tools, "tools")
    out["add"] = dump(await client.call_tool("add", {"a": 2, "b": 3}))
    out["add_bad"] = dump(await client.call_tool("add", {"a": "two"}))
    out["unknown_tool"] = await error_of(client.call_tool("no_such_tool", {}))
    out["weather"] = dump(await client.call_tool("weather", {"city": "Paris"}))
    out["boom"] = dump(await client.call_tool("boom", {}))
    out["pixel"] = dump(await client.call_tool("pixel", {}))
    if not modern:
        out["set_level"] = await error_of(client.set_logging_level("debug"))
    out["slow"] = text_of(await client.call_tool("slow", {"steps": 3}, progress_callback=rec.on_progress))
    out["progress"] = list(rec.progress)
    out["logs"] = list(rec.logs)
    out["ask_name"] = dump(await client.call_tool("ask_name", {}))
    out["elicitations"] = rec.elicitations
    out["summarize"] = text_of(await client.call_tool("summarize", {"text": "a long text"}))
    out["samplings"] = rec.samplings
    out["client_roots"] = dump(await client.call_tool("client_roots", {}))
    out["noisy"] = text_of(await client.call_tool("noisy", {"text": "x"}))
    out["after_noisy"] = text_of(await client.call_tool("add", {"a": 1, "b": 1}))

    # Cancellation: cancel the call once the server reports it is parked.
    rec.progress.clear()
    with anyio.CancelScope() as scope:

        async def cancel_when_parked() -> None:
            await rec.parked.wait()
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(cancel_when_parked)
            seconds = 1 if no_session else 20
            await client.call_tool("wait_for_cancel", {"seconds": seconds}, progress_callback=rec.on_progress)
    out["cancel_scope_cancelled"] = scope.cancelled_caught
    if no_session:
        # No session ties notifications/cancelled to the request: the handler runs its course.
        out["cancellations"] = text_of(await client.call_tool("cancellations", {}))
    else:
        # The server records the cancellation when its handler wakes up: ask until it has (bounded).
        with anyio.fail_after(10):
            while True:
                seen = await client.call_tool("cancellations", {})
                if seen.structured_content or text_of(seen) not in ("", "[]"):
                    break
                await anyio.sleep(0.05)
        out["cancellations"] = text_of(seen)

    out["resources"] = await all_pages(client.list_resources, "resources")
    out["templates"] = await all_pages(client.list_resource_templates, "resource_templates")
    out["read_hello"] = dump(await client.read_resource("fixture://hello"))
    out["read_item"] = dump(await client.read_resource("fixture://items/apple"))
    out["read_missing"] = await error_of(client.read_resource("fixture://items/kiwi"))
    out["prompts"] = await all_pages(client.list_prompts, "prompts")
    out["greet"] = dump(await client.get_prompt("greet", {"name": "Ada", "style": "formal"}))
    out["conversation"] = dump(await client.get_prompt("conversation", {"topic": "tea"}))
    out["greet_missing_arg"] = await error_of(client.get_prompt("greet", {}))
    out["complete_prompt"] = dump(
        await client.complete(types.PromptReference(type="ref/prompt", name="greet"), {"name": "name", "value": "A"})
    )
    out["complete_style"] = dump(
        await client.complete(types.PromptReference(type="ref/prompt", name="greet"), {"name": "style", "value": "f"})
    )
    out["complete_template"] = dump(
        await client.complete(
            types.ResourceTemplateReference(type="ref/resource", uri="fixture://items/{item_id}"),
            {"name": "item_id", "value": "ap"},
        )
    )

    # Change notifications: resource updates and a tool added at run time.
    if modern:
        events: List[str] = []
        async with client.listen(tools_list_changed=True, resource_subscriptions=["fixture://items/apple"]) as sub:
            out["listen_honored"] = dump(sub.honored)
            await client.call_tool("touch", {"item_id": "apple"})
            await client.call_tool("add_tool", {"name": "late_tool"})
            with anyio.fail_after(10):
                async for event in sub:
                    events.append(type(event).__name__)
                    if len(events) >= 2:
                        break
        out["events"] = sorted(events)
    elif no_session:
        out["subscribe"] = await error_of(client.subscribe_resource("fixture://items/apple"))
        await client.call_tool("touch", {"item_id": "apple"})
        await client.call_tool("add_tool", {"name": "late_tool"})
        out["notifications"] = sorted(set(rec.notifications))
    else:
        out["subscribe"] = await error_of(client.subscribe_resource("fixture://items/apple"))
        await client.call_tool("touch", {"item_id": "apple"})
        await client.call_tool("add_tool", {"name": "late_tool"})
        with anyio.fail_after(10):
            await rec.updated.wait()
            await rec.tools_changed.wait()
        out["notifications"] = sorted(set(rec.notifications))
        rec.updated = anyio.Event()
        out["unsubscribe"] = await error_of(client.unsubscribe_resource("fixture://items/apple"))
        await client.call_tool("touch", {"item_id": "apple"})
        await client.call_tool("touch", {"item_id": "apricot"})
        await anyio.sleep(0.3)
        out["updated_after_unsubscribe"] = rec.updated.is_set()
    out["tools_after"] = [tool["name"] for tool in (await all_pages(client.list_tools, "tools"))["items"]]
    out["late_tool"] = text_of(await client.call_tool("late_tool", {}))
    return out


async def workspace(client: Client, rec: Recorder, modern: bool) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    out["tools"] = await all_pages(client.list_tools, "tools")
    out["write"] = text_of(await client.call_tool("write_file", {"path": "notes/todo.txt", "content": "one\ntwo\n"}))
    out["read"] = text_of(await client.call_tool("read_file", {"path": "notes/todo.txt"}))
    patch = "*** Begin Patch\n*** Update File: notes/todo.txt\n@@\n one\n-two\n+zwei\n*** End Patch"
    out["patch"] = text_of(await client.call_tool("apply_patch", {"patch": patch}))
    out["read_after_patch"] = text_of(await client.call_tool("read_file", {"path": "notes/todo.txt"}))
    out["list"] = text_of(await client.call_tool("list_directory", {"path": ".", "depth": 2}))
    command = await client.call_tool("execute_command", {"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]})
    out["command"] = dump(command)
    out["escape"] = dump(await client.call_tool("read_file", {"path": "../outside.txt"}))
    out["resources"] = await all_pages(client.list_resources, "resources")
    out["templates"] = await all_pages(client.list_resource_templates, "resource_templates")
    out["config"] = dump(await client.read_resource("workspace://config"))
    out["environment"] = dump(await client.read_resource("workspace://environment"))
    out["prompts"] = await all_pages(client.list_prompts, "prompts")
    out["review"] = dump(await client.get_prompt("code_review", {"path": "notes/todo.txt", "focus": "readability"}))
    out["complete_path"] = dump(
        await client.complete(
            types.PromptReference(type="ref/prompt", name="generate_tests"), {"name": "path", "value": "notes/"}
        )
    )
    out["complete_framework"] = dump(
        await client.complete(
            types.PromptReference(type="ref/prompt", name="generate_tests"), {"name": "framework", "value": "py"}
        )
    )
    return out


async def resume(client: Client, rec: Recorder) -> Dict[str, Any]:
    """A call whose SSE stream the test cuts after the progress event: the client must resume it."""
    result = await client.call_tool("wait_for_cancel", {"seconds": 1}, progress_callback=rec.on_progress)
    return {
        "result": text_of(result),
        "progress": list(rec.progress),
        "after": text_of(await client.call_tool("add", {"a": 1, "b": 2})),
    }


async def status(url: Optional[str]) -> Any:
    """The test server's ``GET /status`` (its open connections), when the caller named it."""
    if not url:
        return None
    async with httpx2.AsyncClient(timeout=10) as http:
        return (await http.get(url)).json()


async def group(url: str, status_url: Optional[str]) -> Dict[str, Any]:
    """The SDK's other client API, ``ClientSessionGroup``, over Streamable HTTP (a smoke test)."""
    out: Dict[str, Any] = {}
    async with ClientSessionGroup() as sessions:
        session = await sessions.connect_to_server(StreamableHttpParameters(url=url, timeout=TIMEOUT))
        out["tools"] = sorted(sessions.tools)
        out["resources"] = sorted(sessions.resources)
        out["prompts"] = sorted(sessions.prompts)
        out["add"] = dump(await sessions.call_tool("add", {"a": 20, "b": 22}))
        out["weather"] = dump(await sessions.call_tool("weather", {"city": "Oslo"}))
        out["status_while_connected"] = await status(status_url)
        await sessions.disconnect_from_server(session)
    out["status_after_disconnect"] = await status(status_url)
    return out


class HttpLog:
    """Every HTTP exchange of the client (method, status, content type, session ids)."""

    def __init__(self) -> None:
        self.exchanges: List[Dict[str, Any]] = []
        self.session_ids: List[str] = []

    async def on_response(self, response: httpx2.Response) -> None:
        session_id = response.headers.get("mcp-session-id")
        if session_id and session_id not in self.session_ids:
            self.session_ids.append(session_id)
        self.exchanges.append(
            {
                "method": response.request.method,
                "status": response.status_code,
                "type": response.headers.get("content-type", "").split(";")[0],
                "sent_session": response.request.headers.get("mcp-session-id"),
                "sent_version": response.request.headers.get("mcp-protocol-version"),
                "last_event_id": response.request.headers.get("last-event-id"),
            }
        )


async def after_close(url: str, log: HttpLog) -> Dict[str, Any]:
    """What the server says, once the client closed, to a request naming the closed session."""
    out: Dict[str, Any] = {"http": log.exchanges, "session_ids": log.session_ids}
    if not log.session_ids:
        return out
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-session-id": log.session_ids[-1],
        "mcp-protocol-version": "2025-11-25",
    }
    body = {"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": {}}
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(url, json=body, headers=headers)
        out["after_close"] = {"status": response.status_code, "body": response.json()}
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["legacy", "auto"], required=True)
    parser.add_argument("--scenario", choices=["fixture", "workspace", "group", "resume"], required=True)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--url", default=None, help="connect over Streamable HTTP to this URL (no command)")
    parser.add_argument("--stateless", action="store_true", help="the HTTP server keeps no legacy sessions")
    parser.add_argument("--status-url", default=None, help="the test server's GET /status, asked while connected")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if options.scenario == "group":
        json.dump(await group(options.url, options.status_url), sys.stdout)
        sys.stdout.write("\n")
        return
    rec = Recorder()
    log = HttpLog()
    async with contextlib.AsyncExitStack() as stack:
        if options.url:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(timeout=httpx2.Timeout(TIMEOUT, read=TIMEOUT), event_hooks={"response": [log.on_response]})
            )
            server: Any = streamable_http_client(options.url, http_client=http)
        else:
            server = StdioServerParameters(command=command[0], args=command[1:], cwd=options.workdir)
        out = await drive(server, options, rec)
    if options.url:
        out.update(await after_close(options.url, log))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


async def drive(server: Any, options: argparse.Namespace, rec: Recorder) -> Dict[str, Any]:
    client = Client(
        server,
        mode=options.mode,
        logging_callback=rec.on_log,
        message_handler=rec.on_message,
        elicitation_callback=rec.on_elicit,
        sampling_callback=rec.on_sample,
        list_roots_callback=rec.on_roots,
        log_level="debug" if options.mode == "auto" else None,
        read_timeout_seconds=TIMEOUT,
    )
    with anyio.fail_after(TIMEOUT):
        async with client:
            modern = client.protocol_version == "2026-07-28"
            out: Dict[str, Any] = {
                "protocol_version": client.protocol_version,
                "server_info": dump(client.server_info),
                "capabilities": dump(client.server_capabilities),
                "instructions": client.instructions,
            }
            out["status_while_connected"] = await status(options.status_url)
            if options.scenario == "fixture":
                out.update(await fixture(client, rec, modern, options.stateless))
            elif options.scenario == "resume":
                out.update(await resume(client, rec))
            else:
                out.update(await workspace(client, rec, modern))
    return out


if __name__ == "__main__":
    anyio.run(main)
