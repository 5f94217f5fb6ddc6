"""The ``syncmcp`` command line (``python -m syncmcp``); for now only ``serve``.

Example:
    $ syncmcp serve --root ~/project --sandbox workspace-write
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Dict, List, Optional

from ._sandbox import SANDBOX_POLICIES
from ._version import __version__
from .server.workspace import DEFAULT_SERVER_NAME, WorkspaceServer

__all__ = ["main"]

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _environment_pair(text: str) -> str:
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncmcp", description="syncmcp: a synchronous Model Context Protocol toolkit.")
    parser.add_argument("--version", action="version", version=f"syncmcp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the workspace MCP server on stdin/stdout",
        description=(
            "Run the built-in workspace MCP server on stdin/stdout: tools to read, write and patch files and to run "
            "commands, under a sandbox policy a client may update (syncmcp's or Codex's sandbox-state request)."
        ),
    )
    serve.add_argument(
        "--root",
        action="append",
        metavar="DIR",
        help="a workspace folder (repeatable; default: the current folder)",
    )
    serve.add_argument(
        "--sandbox",
        choices=SANDBOX_POLICIES,
        default="workspace-write",
        help="the policy until a client sends one (default: workspace-write over the roots)",
    )
    serve.add_argument("--network", action="store_true", help="let commands run in the OS sandbox use the network")
    serve.add_argument(
        "--command-timeout", type=float, default=60.0, metavar="SECONDS", help="default timeout of execute_command"
    )
    serve.add_argument(
        "--max-output", type=int, default=100_000, metavar="BYTES", help="bytes of each command output stream kept"
    )
    serve.add_argument(
        "--env",
        action="append",
        type=_environment_pair,
        metavar="KEY=VALUE",
        help="an environment variable for commands (repeatable)",
    )
    serve.add_argument("--no-os-sandbox", action="store_true", help="never run commands inside bubblewrap")
    serve.add_argument("--name", default=None, help="the server name clients see (default: syncmcp-workspace)")
    serve.add_argument("--log-level", choices=_LOG_LEVELS, default="warning", help="level of the log written to stderr")
    return parser


def _serve(options: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, options.log_level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    env: Dict[str, str] = {}
    for pair in options.env or ():
        key, _, value = pair.partition("=")
        env[key] = value
    try:
        app = WorkspaceServer(
            options.root or None,
            sandbox=options.sandbox,
            network_access=options.network,
            command_timeout=options.command_timeout,
            max_command_timeout=max(600.0, options.command_timeout),
            max_output=options.max_output,
            env=env,
            use_os_sandbox=not options.no_os_sandbox,
            name=options.name or DEFAULT_SERVER_NAME,
        )
    except ValueError as exc:
        print(f"syncmcp serve: {exc}", file=sys.stderr)
        return 2
    app.run_stdio()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); the exit status.

    Example:
        main(["--version"])
        # -> syncmcp 0.1.0
    """
    parser = _parser()
    options = parser.parse_args(argv)
    if options.command == "serve":
        return _serve(options)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
