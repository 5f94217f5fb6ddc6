"""A remote MCP server over Streamable HTTP: connect, list its tools, call one; log in if it asks.

Run::

    python examples/remote_server.py URL [TOOL [JSON]] [--bearer-env VAR] [--login]

``--bearer-env VAR`` sends the token held in ``$VAR``; ``--login`` logs in with OAuth when the
server asks (the browser opens, or the link is printed; the tokens are kept for next time). With
neither, a server that needs credentials fails with ``AuthenticationRequired``, which says so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import syncmcp


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("tool", nargs="?")
    parser.add_argument("arguments", nargs="?", default="{}", help="the tool's arguments as a JSON object")
    parser.add_argument("--bearer-env", metavar="VAR", help="an environment variable holding a bearer token")
    parser.add_argument("--login", action="store_true", help="log in with OAuth when the server asks")
    options = parser.parse_args(argv)

    token = os.environ[options.bearer_env] if options.bearer_env else None
    try:
        session = syncmcp.connect_http(options.url, bearer_token=token, oauth=options.login)
    except syncmcp.AuthenticationRequired as exc:
        print(f"the server wants credentials: {exc}", file=sys.stderr)
        return 2
    except syncmcp.HTTPError as exc:
        print(f"cannot reach the server: {exc}", file=sys.stderr)
        return 3
    with session:
        print(f"{session.server_info.name} {session.server_info.version or ''}".strip(), f"({session.era} era)")
        for tool in session.list_tools():
            print(f"  {tool.name}: {(tool.description or '').splitlines()[0] if tool.description else ''}")
        if options.tool:
            result = session.call_tool(options.tool, json.loads(options.arguments), timeout=30)
            print(("error: " if result.is_error else "") + result.text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
