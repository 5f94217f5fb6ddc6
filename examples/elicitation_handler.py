"""Answer a server's questions (elicitation) with a plain Python function.

The server half of this file books a table and asks the user for the details it lacks; the
client half answers with ``ask_user``: at a terminal it prompts for each field, otherwise it
accepts with the form's defaults plus a name. Run: ``python examples/elicitation_handler.py``.
"""

from __future__ import annotations

import sys
from typing import Any, Dict

import syncmcp
from syncmcp.server import Context, Server

server = Server("restaurant")


@server.tool()
def book_table(restaurant: str, ctx: Context) -> str:
    """Book a table; asks the user for the party's name and size.

    Args:
        restaurant: where to book.
    """
    answer = ctx.elicit(
        f"Booking at {restaurant}: who is coming?",
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "name for the booking"},
                "guests": {"type": "integer", "minimum": 1, "maximum": 12, "default": 2},
                "terrace": {"type": "boolean", "default": False},
            },
            "required": ["name"],
        },
    )
    if answer.action != "accept":
        return f"no booking ({answer.action})"
    details = answer.content or {}
    seat = "on the terrace" if details["terrace"] else "inside"
    return f"booked {restaurant} for {details['guests']} under {details['name']}, {seat}"


def ask_user(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
    """The elicitation handler: runs on a syncmcp worker thread, never on the reader."""
    print(f"[{ctx.server}] {params['message']}")
    fields = params["requestedSchema"]["properties"]
    if not sys.stdin.isatty():
        return {"action": "accept", "content": {"name": "Ada"}}  # syncmcp fills the defaults in
    content: Dict[str, Any] = {}
    for name, spec in fields.items():
        typed = input(f"  {name} ({spec.get('type')}, default {spec.get('default', '-')}): ").strip()
        if not typed:
            continue  # keep the default
        if spec.get("type") == "integer":
            content[name] = int(typed)
        elif spec.get("type") == "boolean":
            content[name] = typed.lower() in ("y", "yes", "true")
        else:
            content[name] = typed
    return {"action": "accept", "content": content}


def main() -> None:
    with syncmcp.connect(sys.executable, [__file__, "--serve"], name="restaurant", elicitation_handler=ask_user) as session:
        print(session.call_tool("book_table", {"restaurant": "Chez Python"}).text)


if __name__ == "__main__":
    if "--serve" in sys.argv:
        server.run_stdio()
    else:
        main()
