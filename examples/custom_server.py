"""A custom MCP server in a few lines: plain functions, served by threads (no event loop).

Run it as a stdio server (``python examples/custom_server.py``) and point any MCP client at it,
or run it with ``--demo`` to start it and talk to it with syncmcp's own client.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from syncmcp.server import Context, Server

server = Server("notes", version="1.0", instructions="Keeps short notes in memory.")
NOTES: dict = {}


@dataclass
class Stats:
    """What ``stats`` returns: it becomes structured content with an output schema."""

    notes: int
    characters: int


@server.tool()
def add_note(title: str, text: str) -> str:
    """Store a note.

    Args:
        title: the note's title.
        text: the note itself.
    """
    NOTES[title] = text
    return f"stored {title!r}"


@server.tool()
def stats(ctx: Context) -> Stats:
    """Count the notes (reports progress while counting)."""
    total = 0
    for index, text in enumerate(NOTES.values(), start=1):
        total += len(text)
        ctx.report_progress(index, len(NOTES))
    return Stats(notes=len(NOTES), characters=total)


@server.resource("notes://all", mime_type="text/plain")
def all_notes() -> str:
    """Every note, one per line."""
    return "\n".join(f"{title}: {text}" for title, text in NOTES.items())


def demo() -> None:
    import syncmcp

    with syncmcp.connect(sys.executable, [__file__], name="notes") as session:
        print("tools:", [tool.name for tool in session.list_tools()])
        print(session.call_tool("add_note", {"title": "milk", "text": "buy two litres"}).text)
        print("stats:", session.call_tool("stats").structured_content)


if __name__ == "__main__":
    if "--demo" in sys.argv:
        demo()
    else:
        server.run_stdio()
