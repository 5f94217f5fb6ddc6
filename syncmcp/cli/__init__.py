r"""The ``syncmcp`` command line (also ``python -m syncmcp``).

Manage the configured MCP servers as Codex's ``codex mcp`` does, use their tools, resources and
prompts from a shell, check their health, and run syncmcp's own server.

Configuration commands (Codex's verbs and texts)::

    syncmcp list [--json]                       every server: stdio and HTTP tables
    syncmcp get NAME [--json]                   one server (env and header values masked)
    syncmcp add NAME [--env K=V]... -- COMMAND [ARGS...]
    syncmcp add NAME --url URL [--bearer-token-env-var VAR]
    syncmcp remove NAME

Using servers (each command starts only the servers it needs, in parallel)::

    syncmcp tools [SERVER] [--long] [--json]
    syncmcp call SERVER__TOOL [JSON | -] [--arg key=value]... [--timeout S] [--json]
    syncmcp resources [SERVER] [--json]
    syncmcp read SERVER URI [--json]
    syncmcp prompts [SERVER] [--json]
    syncmcp prompt SERVER NAME [--arg key=value]... [--json]
    syncmcp doctor [NAME ...] [--json]
    syncmcp serve [--root DIR]... [--sandbox POLICY]

Global options, before or after the command: ``-c key=value`` / ``--config key=value`` (Codex's
dotted overrides, e.g. ``-c mcp_servers.test.command=python``; the value is read as TOML, else
taken as a string), ``--config-file PATH``, ``--json``, ``-v/--verbose`` (traceback on error),
``--log-level LEVEL``.

The configuration file is ``--config-file``, else ``$SYNCMCP_CONFIG``, else ``config.toml`` in
syncmcp's user configuration folder. With no file at all, the built-in ``workspace`` server
(``python -m syncmcp serve``) is used, so ``syncmcp tools`` works on a fresh install. ``add`` and
``remove`` edit the file in place, in the section it uses, keeping everything else in it byte for
byte, under a lock, validated before it is written, and atomically. ``add`` of a server that is
already there replaces its command or URL and keeps its other settings (``enabled_tools``,
timeouts...), saying so on stderr. An HTTP server with a bearer token is refused in a JSON file
(Claude's, Cursor's and VS Code's do not know ``bearer_token_env_var``).

Logging (``--log-level`` or ``$SYNCMCP_LOG``): ``debug``, ``info``, ``warning``, ``error``,
``off``; ``wire`` adds every JSON-RPC message (the ``syncmcp.wire.<server>`` loggers), which plain
``debug`` leaves out; combine with commas (``SYNCMCP_LOG=info,wire``) or name logger families
(``manager=debug``).

On a terminal, start-ups and a running call's progress notifications are shown on stderr; never
with ``--json`` or when stderr is not a terminal. Text from servers is printed with control
characters escaped (``\x1b``), except ``--json`` and a result written to a file or a pipe, which
are exact. Ctrl-C cancels the running request on the server (``notifications/cancelled``), stops
every server and exits with 130 (SIGTERM: 143); more Ctrl-C or SIGTERM while it stops them are
ignored, so no server is left running.

Exit status: 0 success; 1 the tool reported an error (``isError``); 2 usage or configuration
error (also arguments the server refused as invalid, JSON-RPC -32602 / -32002); 3 server failure
(did not start, crashed, answered with another error; ``doctor`` found a problem); 4 timeout;
130 interrupted (143 for SIGTERM); 141 stdout closed early; 70 internal error. Errors are
one line on stderr, ``syncmcp: error: ...``; ``--verbose`` adds the traceback.

Example:
    $ syncmcp tools
    workspace__execute_command(command, workdir?, timeout?, ...)  Run a command in the workspace...
    $ syncmcp call workspace__list_directory '{}'
"""

from ._app import main
from ._exits import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SERVER,
    EXIT_TERMINATED,
    EXIT_TIMEOUT,
    EXIT_TOOL_ERROR,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SERVER",
    "EXIT_TERMINATED",
    "EXIT_TIMEOUT",
    "EXIT_TOOL_ERROR",
    "EXIT_USAGE",
    "main",
]
