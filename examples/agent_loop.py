"""A complete agent loop over MCP tools, with a stub model so that it runs offline.

The loop is the one a real model needs (OpenAI Chat Completions format here):

1. hand the model the MCP tools as tool definitions (``syncmcp.llm.tool_definitions``);
2. append the model's reply; if it asks for tool calls, run them all in parallel
   (``syncmcp.llm.run_tool_calls``) and append the results, in the order asked;
3. repeat until the model answers without tool calls.

``StubModel`` stands in for the API: it asks for tools first (a file write, then a read and a
directory listing in one turn) and answers once it has read their results. The tools are
those of syncmcp's own workspace server, working in the current folder. Run:
``python examples/agent_loop.py``. With a real model, replace ``model.complete(...)`` by::

    from openai import OpenAI
    reply = OpenAI().chat.completions.create(model="gpt-4.1", messages=messages, tools=tools)
    message = reply.choices[0].message.model_dump(exclude_none=True)

(the SDK's tool-call objects work as well as dicts: ``run_tool_calls`` reads both).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List

import syncmcp
from syncmcp import llm

Message = Dict[str, Any]


class StubModel:
    """A scripted stand-in for a chat model: tool calls first, then an answer built from their results."""

    def __init__(self, note: str) -> None:
        self.note = note
        self.turns = 0

    @staticmethod
    def _call(call_id: str, name: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}

    def complete(self, messages: List[Message], tools: List[Dict[str, Any]]) -> Message:
        """The assistant message for ``messages`` (Chat Completions format), as the API would return it."""
        offered = {tool["function"]["name"] for tool in tools}
        self.turns += 1
        if self.turns == 1:
            if "workspace__write_file" not in offered:  # a model only calls the tools it was given
                return {"role": "assistant", "content": "I have no tool to write files with."}
            write = self._call("call_1", "workspace__write_file", {"path": "agent-note.txt", "content": self.note})
            return {"role": "assistant", "content": None, "tool_calls": [write]}
        if self.turns == 2:
            calls = [
                self._call("call_2", "workspace__read_file", {"path": "agent-note.txt"}),
                self._call("call_3", "workspace__list_directory", {"path": "."}),
            ]
            return {"role": "assistant", "content": None, "tool_calls": calls}
        results = {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}
        answer = f"The note says {results['call_2']!r}; the folder holds: {results['call_3'].replace(chr(10), ', ')}."
        return {"role": "assistant", "content": answer}


def run_agent(manager: syncmcp.MCPManager, model: StubModel, task: str, *, max_turns: int = 8) -> List[Message]:
    """Run ``task`` to the model's final answer; returns the whole conversation."""
    wanted = ["workspace__write_file", "workspace__read_file", "workspace__list_directory"]
    tools = llm.tool_definitions(manager, "openai", tools=wanted)
    messages: List[Message] = [
        {"role": "system", "content": "You are a careful assistant with file tools."},
        {"role": "user", "content": task},
    ]
    for _ in range(max_turns):
        reply = model.complete(messages, tools)
        messages.append(reply)
        if not reply.get("tool_calls"):
            return messages
        messages += llm.run_tool_calls(manager, reply["tool_calls"], "openai", timeout=30)
    raise RuntimeError(f"no final answer after {max_turns} turns")


def main() -> None:
    servers = {"workspace": syncmcp.ServerConfig(command=sys.executable, args=("-m", "syncmcp", "serve"))}
    with syncmcp.MCPManager(servers) as manager:
        model = StubModel(note="Buy milk.")
        conversation = run_agent(manager, model, "Write 'Buy milk.' to agent-note.txt, then check it.")
        for message in conversation:
            if message.get("tool_calls"):
                for call in message["tool_calls"]:
                    print(f"{message['role']}: calls {call['function']['name']}({call['function']['arguments']})")
            elif message["role"] == "tool":
                print(f"tool [{message['tool_call_id']}]: {message['content']}")
            else:
                print(f"{message['role']}: {message['content']}")
        print(f"turns: {model.turns}")


if __name__ == "__main__":
    main()
