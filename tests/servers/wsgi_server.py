"""A syncmcp server as a WSGI application, served by gunicorn or waitress in tests/test_wsgi_servers.py.

``app`` serves both eras with ``stateless=True`` (legacy clients without sessions) and names the
answering process in an ``X-Worker-Pid`` response header; the secret comes from
``$SYNCMCP_SERVER_SECRET``, the page size from ``$WSGI_TEST_PAGE_SIZE``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Tuple

from syncmcp.server import Context, Server

server = Server("wsgi-test", version="1.0", page_size=int(os.environ.get("WSGI_TEST_PAGE_SIZE", "100")))


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first.
        b: the second.
    """
    return a + b


@server.tool()
def pid() -> int:
    """The id of the worker process that answers."""
    return os.getpid()


@server.tool()
def confirm(what: str, ctx: Context) -> str:
    """Ask the user to confirm (in the 2026-07-28 era the answer may reach another worker).

    Args:
        what: what to confirm.
    """
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    answer = ctx.elicit(f"Confirm {what}? (asked by worker {os.getpid()})", schema)
    ok = answer.action == "accept" and bool((answer.content or {}).get("ok"))
    return f"{what}: {'confirmed' if ok else 'declined'} (answered by worker {os.getpid()})"


def _filler(index: int) -> None:
    def tool() -> str:
        return f"filler {index}"

    tool.__doc__ = f"Filler tool number {index} (makes tools/list span several pages)."
    server.tool(name=f"filler_{index:02d}")(tool)


for _index in range(10):
    _filler(_index)

mcp_app = server.wsgi_app(stateless=True)


def app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``mcp_app``, with the answering process in an ``X-Worker-Pid`` header of every response."""

    def start(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("X-Worker-Pid", str(os.getpid()))], exc_info)

    return mcp_app(environ, start)
