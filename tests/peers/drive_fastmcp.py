"""Drive a syncmcp HTTP server with the standalone FastMCP client; print what happened as one JSON object.

Run with the peers' Python (it has ``fastmcp`` 4.x on the official ``mcp`` 2.x core)::

    python drive_fastmcp.py --mode legacy|auto URL

The server is ``tests/servers/framework_server.py --http``. ``--mode legacy`` forces the
``initialize`` handshake; ``--mode auto`` lets FastMCP probe ``server/discover`` (the 2026-07-28
era). The pytest side asserts on the printed JSON; this script only records.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import warnings
from typing import Any, Dict, List

from fastmcp import Client

warnings.simplefilter("ignore")


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def run(url: str, mode: str) -> Dict[str, Any]:
    progress: List[float] = []
    logs: List[str] = []

    async def on_progress(done: float, total: Any, message: Any) -> None:
        progress.append(done)

    async def on_log(message: Any) -> None:
        logs.append(str(message.data))

    async def on_elicit(message: str, response_type: Any, params: Any, context: Any) -> Dict[str, Any]:
        return {"name": "Fast"}

    async def on_sample(messages: Any, params: Any, context: Any) -> str:
        return "short"

    client = Client(
        url,
        mode=mode,
        progress_handler=on_progress,
        log_handler=on_log,
        elicitation_handler=on_elicit,
        sampling_handler=on_sample,
        timeout=30,
    )
    out: Dict[str, Any] = {}
    async with client:
        if mode == "legacy":
            await client.set_logging_level("info")
        out["tools"] = sorted(tool.name for tool in await client.list_tools())
        out["add"] = text_of(await client.call_tool("add", {"a": 2, "b": 40}))
        weather = await client.call_tool("weather", {"city": "Oslo"})
        out["weather"] = weather.structured_content
        out["slow"] = text_of(await client.call_tool("slow", {"steps": 3}))
        out["progress"] = progress
        out["logs"] = logs
        out["ask_name"] = text_of(await client.call_tool("ask_name", {}))
        out["summarize"] = text_of(await client.call_tool("summarize", {"text": "a long text"}))
        boom = await client.call_tool("boom", {}, raise_on_error=False)
        out["boom"] = {"is_error": boom.is_error, "text": text_of(boom)}
        contents = await client.read_resource("fixture://hello")
        out["hello"] = getattr(contents[0], "text", None)
        prompts = await client.list_prompts()
        out["prompts"] = sorted(prompt.name for prompt in prompts)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["legacy", "auto"], required=True)
    parser.add_argument("url")
    options = parser.parse_args()
    json.dump(asyncio.run(run(options.url, options.mode)), sys.stdout)


if __name__ == "__main__":
    main()
