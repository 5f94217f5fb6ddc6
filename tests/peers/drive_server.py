"""Drive a syncmcp server with the official ``mcp`` SDK client; print what happened as one JSON object.

Run with the peers' Python (it has ``mcp`` 2.x)::

    python drive_server.py --mode legacy|auto --scenario fixture|workspace [--workdir DIR] -- CMD ARGS...

``--mode legacy`` forces the ``initialize`` handshake; ``--mode auto`` lets the client probe
``server/discover`` first (a 2026-07-28 server is then used in the modern era). The pytest side
asserts on the printed JSON; this script only records, it never decides pass or fail.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any, Dict, List, Optional

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
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


async def fixture(client: Client, rec: Recorder, modern: bool) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    out["tools"] = await all_pages(client.list_tools, "tools")
    out["add"] = dump(await client.call_tool("add", {"a": 2, "b": 3}))
    out["add_bad"] = dump(await client.call_tool("add", {"a": "two"}))
    out["unknown_tool"] = await error_of(client.call_tool("no_such_tool", {}))
    out["weather"] = dump(await client.call_tool("weather", {"city": "Paris"}))
    out["boom"] = dump(await client.call_tool("boom", {}))
    out["pixel"] = dump(await client.call_tool("pixel", {}))
    if not modern:
        await client.set_logging_level("debug")
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
            await client.call_tool("wait_for_cancel", {"seconds": 20}, progress_callback=rec.on_progress)
    out["cancel_scope_cancelled"] = scope.cancelled_caught
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
    else:
        await client.subscribe_resource("fixture://items/apple")
        await client.call_tool("touch", {"item_id": "apple"})
        await client.call_tool("add_tool", {"name": "late_tool"})
        with anyio.fail_after(10):
            await rec.updated.wait()
            await rec.tools_changed.wait()
        out["notifications"] = sorted(set(rec.notifications))
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["legacy", "auto"], required=True)
    parser.add_argument("--scenario", choices=["fixture", "workspace"], required=True)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    rec = Recorder()
    params = StdioServerParameters(command=command[0], args=command[1:], cwd=options.workdir)
    client = Client(
        params,
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
            run = fixture if options.scenario == "fixture" else workspace
            out.update(await run(client, rec, modern))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    anyio.run(main)
