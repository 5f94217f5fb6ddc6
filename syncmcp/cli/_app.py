"""Argument parsing and dispatch for ``syncmcp``; errors become one line and an exit status.

Parsing is two-level: the top parser reads the global options and the command name and keeps the
rest; each command has its own parser that also accepts the global options (so ``syncmcp tools
--json`` and ``syncmcp --json tools`` are the same) and allows options and positionals in any
order. ``add`` splits its arguments at the first ``--``: what follows is the server's command line,
untouched. Nothing heavy is imported here: ``syncmcp serve`` (the embedded default server every
``syncmcp`` command starts) and ``--help`` stay fast; each command imports what it needs.

Example:
    main(["--version"])
    # prints: syncmcp 0.1.0
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import traceback
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

from .._version import __version__
from ._exits import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    Terminated,
    exit_status,
)

__all__ = ["COMMANDS", "main"]

#: Command name -> (arguments shown in the overview, one-line help).
COMMANDS: Dict[str, Tuple[str, str]] = {
    "list": ("", "list the configured MCP servers"),
    "get": ("NAME", "show one server's configuration"),
    "add": ("NAME ...", "add a server: [--env K=V]... -- COMMAND [ARGS...], or --url URL"),
    "remove": ("NAME", "remove a server from the configuration file"),
    "tools": ("[SERVER]", "list tools under their qualified names (SERVER__TOOL)"),
    "call": ("TOOL [JSON]", "call a tool: JSON object, '-' for stdin, or --arg key=value"),
    "resources": ("[SERVER]", "list resources and resource templates"),
    "read": ("SERVER URI", "read a resource"),
    "prompts": ("[SERVER]", "list prompts"),
    "prompt": ("SERVER NAME", "render a prompt (--arg key=value)"),
    "doctor": ("[NAME ...]", "start servers and report their health"),
    "login": ("NAME", "log in to a remote server with OAuth (opens the browser)"),
    "logout": ("NAME", "forget the OAuth credentials stored for a remote server"),
    "serve": ("", "run syncmcp's workspace MCP server on stdin/stdout, or over HTTP with --http"),
    "help": ("[COMMAND]", "show help for a command"),
}
_JSON_COMMANDS = ("list", "get", "tools", "call", "resources", "read", "prompts", "prompt", "doctor")

_EPILOG = """\
exit status:
  0 success, 1 the tool reported an error (isError), 2 usage or configuration error (also
  arguments the server refused as invalid), 3 server failure (did not start, crashed, error
  response), 4 timeout, 130 interrupted (143 terminated)

configuration:
  --config-file PATH, else $SYNCMCP_CONFIG, else config.toml in syncmcp's user config folder
  (Codex's [mcp_servers.NAME] tables, or a JSON {"mcpServers": ...} file). Without any file,
  syncmcp uses its built-in server, 'workspace' (python -m syncmcp serve).

logging:
  --log-level or $SYNCMCP_LOG: debug, info, warning, error, off; 'wire' adds every JSON-RPC
  message (syncmcp.wire.<server>); combine with commas, e.g. SYNCMCP_LOG=info,wire.

examples:
  syncmcp tools
  syncmcp call workspace__list_directory '{}'
  syncmcp add time -- uvx mcp-server-time --local-timezone UTC
  syncmcp -c mcp_servers.test.command=python -c 'mcp_servers.test.args=["server.py"]' doctor test
"""


def _overview() -> str:
    width = max(len(f"{name} {args}".rstrip()) for name, (args, _) in COMMANDS.items())
    lines = ["commands:"]
    for name, (args, about) in COMMANDS.items():
        lines.append(f"  {f'{name} {args}'.rstrip().ljust(width)}  {about}")
    return "\n".join(lines) + "\n\n" + _EPILOG


def _add_common(parser: argparse.ArgumentParser, prefix: str, *, json: bool) -> None:
    """The global options; on a command's parser their destinations get ``prefix`` and no default."""
    group = parser.add_argument_group("global options")
    group.add_argument(
        "-c",
        "--config",
        action="append",
        dest=f"{prefix}overrides",
        metavar="key=value",
        help="override a configuration value for this run, Codex's dotted form: -c mcp_servers.test.command=python "
        "(the value is read as TOML, else as a string); repeatable",
    )
    group.add_argument("--config-file", dest=f"{prefix}config_file", metavar="PATH", help="the configuration file to use")
    if json:
        group.add_argument("--json", dest=f"{prefix}json", action="store_true", default=None, help="print JSON on stdout")
    group.add_argument(
        "-v", "--verbose", dest=f"{prefix}verbose", action="store_true", default=None, help="show the traceback of an error"
    )
    group.add_argument(
        "--log-level",
        dest=f"{prefix}log_level",
        metavar="LEVEL",
        help="log to stderr: debug, info, warning, error, off, or wire (every message); e.g. info,wire",
    )


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syncmcp",
        usage="syncmcp [OPTIONS] COMMAND [ARGS...]",
        description="syncmcp: a synchronous Model Context Protocol toolkit. Manage MCP servers, use their tools, "
        "resources and prompts, and run syncmcp's own server.",
        epilog=_overview(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"syncmcp {__version__}")
    _add_common(parser, "", json=True)
    parser.add_argument("command", nargs="?", metavar="COMMAND", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _command_parser(name: str) -> argparse.ArgumentParser:
    args, about = COMMANDS[name]
    parser = argparse.ArgumentParser(prog=f"syncmcp {name}", description=about[0].upper() + about[1:] + ".")
    if name == "get":
        parser.add_argument("name", help="the server's name")
    elif name == "add":
        parser.usage = "syncmcp add [OPTIONS] NAME (--url URL | -- COMMAND [ARGS...])"
        parser.add_argument("name", help="the server's name (letters, digits, '-', '_')")
        parser.add_argument("command", nargs="*", help="the command starting the server (after --)")
        parser.add_argument(
            "--env", action="append", default=[], metavar="KEY=VALUE", help="an environment variable for the server; repeatable"
        )
        parser.add_argument("--url", help="a Streamable HTTP server's URL, instead of a command")
        parser.add_argument("--bearer-token-env-var", metavar="VAR", help="with --url: the variable holding a bearer token")
    elif name in ("remove", "logout"):
        parser.add_argument("name", help="the server's name")
    elif name == "login":
        parser.add_argument("name", help="the HTTP server's name")
        parser.add_argument("--scopes", metavar="SCOPES", help="the scopes to ask for, comma-separated (default: the server's)")
        parser.add_argument("--no-browser", action="store_true", help="only print the authorization link; do not open a browser")
        parser.add_argument(
            "--timeout", type=float, default=300.0, metavar="SECONDS", help="how long to wait for the login (default: 300)"
        )
    elif name in ("tools", "resources", "prompts"):
        parser.add_argument("server", nargs="?", help="only this server (default: every enabled server)")
        if name == "tools":
            parser.add_argument("-l", "--long", action="store_true", help="full descriptions and every parameter")
    elif name == "call":
        parser.add_argument("tool", help="the qualified tool name, SERVER__TOOL (as 'syncmcp tools' shows it)")
        parser.add_argument(
            "arguments", nargs="?", metavar="JSON", help="the arguments as a JSON object, or '-' to read it from stdin"
        )
        parser.add_argument(
            "--arg",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="one argument; the value is read as JSON if it parses, else as a string; repeatable",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            metavar="SECONDS",
            help="give up (and cancel) after this long, at most a year; 0: no limit (default: tool_timeout_sec)",
        )
    elif name == "read":
        parser.add_argument("server", help="the server")
        parser.add_argument("uri", help="the resource's URI")
    elif name == "prompt":
        parser.add_argument("server", help="the server")
        parser.add_argument("name", help="the prompt's name")
        parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="one prompt argument; repeatable")
    elif name == "doctor":
        parser.add_argument("names", nargs="*", metavar="NAME", help="servers to check (default: all)")
    elif name == "help":
        parser.add_argument("topic", nargs="?", metavar="COMMAND")
    del args
    _add_common(parser, "sub_", json=name in _JSON_COMMANDS)
    return parser


def _environment_pair(text: str) -> str:
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def _serve_parser() -> argparse.ArgumentParser:
    from .._sandbox import SANDBOX_POLICIES

    parser = argparse.ArgumentParser(
        prog="syncmcp serve",
        description=(
            "Run the built-in workspace MCP server on stdin/stdout: tools to read, write and patch files and to run "
            "commands, under a sandbox policy a client may update (syncmcp's or Codex's sandbox-state request)."
        ),
    )
    parser.add_argument(
        "--root", action="append", metavar="DIR", help="a workspace folder (repeatable; default: the current folder)"
    )
    parser.add_argument(
        "--sandbox",
        choices=SANDBOX_POLICIES,
        default="workspace-write",
        help="the policy until a client sends one (default: workspace-write over the roots)",
    )
    parser.add_argument(
        "--max-sandbox",
        choices=SANDBOX_POLICIES,
        default="danger-full-access",
        help="the most permissive policy a client's update may set (default: danger-full-access)",
    )
    parser.add_argument("--network", action="store_true", help="let commands run in the OS sandbox use the network")
    parser.add_argument(
        "--command-timeout", type=float, default=60.0, metavar="SECONDS", help="default timeout of execute_command"
    )
    parser.add_argument(
        "--max-output", type=int, default=100_000, metavar="BYTES", help="bytes of each command output stream kept"
    )
    parser.add_argument(
        "--env",
        action="append",
        type=_environment_pair,
        metavar="KEY=VALUE",
        help="an environment variable for commands (repeatable)",
    )
    parser.add_argument("--no-os-sandbox", action="store_true", help="never run commands inside bubblewrap")
    parser.add_argument(
        "--require-os-sandbox",
        action="store_true",
        help="refuse execute_command rather than run a command unconfined when no OS sandbox works here",
    )
    parser.add_argument(
        "--readable",
        action="append",
        metavar="DIR",
        help="a folder commands inside the OS sandbox may read besides the system ones and the roots (repeatable)",
    )
    parser.add_argument("--name", default=None, help="the server name clients see (default: syncmcp-workspace)")
    parser.add_argument(
        "--log-level", default=None, metavar="LEVEL", help="log written to stderr: debug, info, warning (default), error, wire"
    )
    http = parser.add_argument_group("HTTP (instead of stdin/stdout)")
    http.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        type=_http_address,
        help="serve MCP over Streamable HTTP at http://HOST:PORT/mcp (HOST defaults to 127.0.0.1; PORT 0 picks a free one)",
    )
    http.add_argument(
        "--allow-origin", action="append", default=[], metavar="ORIGIN", help="a browser Origin allowed to call (repeatable)"
    )
    http.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="an accepted Host header (repeatable; 'name:*': any port)",
    )
    http.add_argument(
        "--token-env",
        metavar="VAR",
        help="require 'Authorization: Bearer <token>' with the token held by this environment variable",
    )
    http.add_argument("--stateless", action="store_true", help="no sessions for legacy clients (any worker can answer)")
    return parser


def _http_address(text: str) -> Tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT, got {text!r}")
    return host, int(port)


def _code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return EXIT_OK
    return code if isinstance(code, int) else EXIT_USAGE


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _lenient(stream: Any) -> None:
    """Never fail on a character the terminal's encoding lacks."""
    try:
        stream.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError, OSError):
        pass


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit-time flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _report(err: IO[str], error: BaseException, status: int, verbose: bool) -> None:
    from ._output import terminal_text

    if verbose:
        err.write(terminal_text("".join(traceback.format_exception(type(error), error, error.__traceback__))))
    message = str(error) if status != EXIT_INTERNAL else f"{type(error).__name__}: {error}"
    err.write(f"syncmcp: error: {terminal_text(message or type(error).__name__)}\n")
    if status == EXIT_INTERNAL and not verbose:
        err.write("syncmcp: this is a bug in syncmcp; run again with --verbose for the traceback, and please report it\n")
    err.flush()


def _serve(rest: Sequence[str], top: argparse.Namespace) -> int:
    from ._logsetup import LOG_ENV_VAR, LoggingState, configure_logging, parse_log_spec

    try:
        options = _serve_parser().parse_args(list(rest))
    except SystemExit as exc:
        return _code(exc)
    env: Dict[str, str] = {}
    for pair in options.env or ():
        key, _, value = pair.partition("=")
        env[key] = value
    try:
        spec = parse_log_spec(options.log_level or top.log_level or os.environ.get(LOG_ENV_VAR) or "warning")
    except CLIError as exc:
        sys.stderr.write(f"syncmcp serve: error: {exc}\n")
        return EXIT_USAGE
    saved = LoggingState.capture(spec)
    configure_logging(spec, sys.stderr)
    try:
        return _run_server(options, env)
    finally:
        saved.restore()


def _run_server(options: argparse.Namespace, env: Dict[str, str]) -> int:
    from ..server.workspace import DEFAULT_SERVER_NAME, WorkspaceServer

    try:
        app = WorkspaceServer(
            options.root or None,
            sandbox=options.sandbox,
            max_sandbox=options.max_sandbox,
            network_access=options.network,
            command_timeout=options.command_timeout,
            max_command_timeout=max(600.0, options.command_timeout),
            max_output=options.max_output,
            env=env,
            use_os_sandbox=not options.no_os_sandbox,
            require_os_sandbox=options.require_os_sandbox,
            sandbox_readable=options.readable or (),
            name=options.name or DEFAULT_SERVER_NAME,
        )
    except ValueError as exc:
        sys.stderr.write(f"syncmcp serve: {exc}\n")
        return EXIT_USAGE
    if options.http is None:
        app.run_stdio()
        return EXIT_OK
    return _run_http(app, options)


def _run_http(app: Any, options: argparse.Namespace) -> int:
    host, port = options.http
    http_options: Dict[str, Any] = {"stateless": options.stateless, "allowed_origins": options.allow_origin}
    if options.allow_host:
        http_options["allowed_hosts"] = options.allow_host
    if options.token_env:
        expected = os.environ.get(options.token_env, "")
        if not expected:
            sys.stderr.write(f"syncmcp serve: --token-env {options.token_env}: the variable is not set or empty\n")
            return EXIT_USAGE
        http_options["verify_token"] = _token_verifier(expected)
    elif host not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(
            f"syncmcp serve: warning: serving on {host} without authentication; anyone who can reach it may use "
            "the workspace (set --token-env)\n"
        )

    def ready(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        sys.stderr.write(f"syncmcp serve: MCP over HTTP at http://{shown}:{bound_port}/mcp\n")
        sys.stderr.flush()

    try:
        app.run_http(host, port, on_ready=ready, **http_options)
    except OSError as exc:
        sys.stderr.write(f"syncmcp serve: cannot listen on {host}:{port}: {exc.strerror or exc}\n")
        return EXIT_USAGE
    return EXIT_OK


def _token_verifier(expected: str) -> Callable[[str], Optional[Dict[str, Any]]]:
    import hmac

    def verify(token: str) -> Optional[Dict[str, Any]]:
        return {"sub": "token"} if hmac.compare_digest(token.encode(), expected.encode()) else None

    return verify


def _dispatch(ctx: Any, name: str, options: argparse.Namespace) -> int:
    if name in ("list", "get", "add", "remove"):
        from . import _manage

        if name == "list":
            return _manage.run_list(ctx)
        if name == "get":
            return _manage.run_get(ctx, options.name)
        if name == "add":
            return _manage.run_add(
                ctx,
                options.name,
                command=options.command,
                env=options.env,
                url=options.url,
                bearer_token_env_var=options.bearer_token_env_var,
            )
        return _manage.run_remove(ctx, options.name)
    if name == "doctor":
        from ._doctor import run_doctor

        return run_doctor(ctx, options.names)
    if name in ("login", "logout"):
        from ._login import run_login, run_logout

        if name == "logout":
            return run_logout(ctx, options.name)
        return run_login(ctx, options.name, scopes=options.scopes, open_browser=not options.no_browser, timeout=options.timeout)
    from . import _use

    handlers: Dict[str, Callable[[], int]] = {
        "tools": lambda: _use.run_tools(ctx, options.server, long=options.long),
        "call": lambda: _use.run_call(ctx, options.tool, options.arguments, options.arg, timeout=options.timeout),
        "resources": lambda: _use.run_resources(ctx, options.server),
        "read": lambda: _use.run_read(ctx, options.server, options.uri),
        "prompts": lambda: _use.run_prompts(ctx, options.server),
        "prompt": lambda: _use.run_prompt(ctx, options.server, options.name, options.arg),
    }
    return handlers[name]()


def _parse_command(name: str, rest: List[str]) -> argparse.Namespace:
    parser = _command_parser(name)
    tail: List[str] = []
    if name == "add" and "--" in rest:
        cut = rest.index("--")
        rest, tail = rest[:cut], rest[cut + 1 :]
    options = parser.parse_intermixed_args(rest)
    if name == "add":
        options.command = [*options.command, *tail]
    return options


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    Example:
        main(["call", "workspace__list_directory", "{}"])
        # prints the listing of the current folder, returns 0
    """
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # outside a command (parsing, set-up): nothing to clean up
        sys.stderr.write("syncmcp: interrupted\n")
        return EXIT_INTERRUPTED


def _main(argv: List[str]) -> int:
    top_parser = _top_parser()
    try:
        top = top_parser.parse_args(argv)
    except SystemExit as exc:
        return _code(exc)
    name = top.command
    if name is None:
        top_parser.print_help(sys.stderr)
        return EXIT_USAGE
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        sys.stderr.write(f"syncmcp: error: unknown command '{name}'{hint}; see 'syncmcp --help'\n")
        return EXIT_USAGE
    if name == "serve":
        return _serve(top.rest, top)
    try:
        options = _parse_command(name, list(top.rest))
    except SystemExit as exc:
        return _code(exc)
    if name == "help":
        topic = options.topic
        if topic is None:
            top_parser.print_help(sys.stdout)
        elif topic == "serve":
            _serve_parser().print_help(sys.stdout)
        elif topic in COMMANDS:
            _command_parser(topic).print_help(sys.stdout)
        else:
            sys.stderr.write(f"syncmcp: error: unknown command '{topic}'\n")
            return EXIT_USAGE
        return EXIT_OK
    return _run(name, top, options)


def _run(name: str, top: argparse.Namespace, options: argparse.Namespace) -> int:
    from ._configfile import parse_override
    from ._context import Context
    from ._logsetup import LOG_ENV_VAR, LoggingState, configure_logging, parse_log_spec
    from ._output import terminal_text
    from ._progress import Progress

    out, err = sys.stdout, sys.stderr
    _lenient(out)
    _lenient(err)
    as_json = bool(top.json or getattr(options, "sub_json", None))
    verbose = bool(top.verbose or options.sub_verbose)
    progress = Progress(err, enabled=_isatty(err) and not as_json, escape=terminal_text)
    try:
        spec = parse_log_spec(options.sub_log_level or top.log_level or os.environ.get(LOG_ENV_VAR))
        overrides = [parse_override(item) for item in [*(top.overrides or []), *(options.sub_overrides or [])]]
    except CLIError as exc:
        _report(err, exc, exc.status, verbose)
        return exc.status
    saved_logging = LoggingState.capture(spec)
    configure_logging(spec, err, before_emit=progress.clear)
    ctx = Context(
        config_file=options.sub_config_file or top.config_file,
        overrides=overrides,
        json=as_json,
        verbose=verbose,
        out=out,
        err=err,
        progress=progress,
    )
    interrupts = ctx.interrupts
    interrupts.install()
    try:
        status = _dispatch(ctx, name, options)
        out.flush()
        return status
    except KeyboardInterrupt as exc:
        progress.clear()
        err.write("syncmcp: terminated\n" if isinstance(exc, Terminated) else "syncmcp: interrupted\n")
        return exit_status(exc)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        progress.clear()
        status = exit_status(exc)
        _report(err, exc, status, verbose)
        return status
    finally:
        interrupts.restore()
        saved_logging.restore()
