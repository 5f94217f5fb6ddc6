"""Server configuration: :class:`ServerConfig` and :func:`load_config` (TOML and JSON files).

Two file shapes load into the same ``{name: ServerConfig}`` mapping, in file order:

* TOML with ``[mcp_servers.NAME]`` tables, the shape of Codex's ``config.toml`` (an existing one
  loads unchanged: its other top-level keys are ignored);
* JSON with ``{"mcpServers": {NAME: {...}}}``, the shape Claude Desktop and Cursor use (VS Code's
  ``{"servers": {...}}`` too), with their ``type``, ``headers`` and ``disabled`` keys.

Where Codex is lenient, syncmcp is strict: an unknown key is an error with a did-you-mean
(openai/codex#3441: typos were silently dropped), and every error is a :class:`ConfigError` naming
the file, the dotted key (``mcp_servers.github.args[2]``) and what was expected. Transport rules
and their texts are Codex's (``url is not supported for stdio``).

The default file is ``config.toml`` in syncmcp's user config directory (platformdirs);
``$SYNCMCP_CONFIG`` names another.

Example:
    >>> servers = parse_config({"mcp_servers": {"files": {"command": "npx", "args": ["-y", "fs"]}}})
    >>> servers["files"].args
    ('-y', 'fs')
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ._exceptions import ConfigError
from ._filemodes import check_not_writable_by_others
from ._limits import limit_problem
from ._urls import redact_url

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CIRCUIT_COOLDOWN_SEC",
    "DEFAULT_STARTUP_TIMEOUT_SEC",
    "DEFAULT_TOOL_TIMEOUT_SEC",
    "EMBEDDED_SERVER_NAME",
    "HTTP_MODES",
    "MACHINE_GRANTS",
    "MAX_TIMEOUT_SEC",
    "OAUTH_GRANTS",
    "OAUTH_KEYS",
    "PROTOCOL_ERAS",
    "SERVER_NAME_PATTERN",
    "ServerConfig",
    "check_fallbacks",
    "default_config_path",
    "embedded_default_servers",
    "load_config",
    "parse_config",
    "resolve_bearer_token",
    "resolve_config_path",
    "sends_own_credentials",
    "validate_server_name",
]

#: Environment variable naming the configuration file to use instead of the default.
CONFIG_ENV_VAR = "SYNCMCP_CONFIG"
#: Seconds for spawn + handshake + first tools/list (Codex's seed value; Codex later moved to 30).
DEFAULT_STARTUP_TIMEOUT_SEC = 10.0
#: Seconds for each tool call (Codex's seed value; Codex later moved to 120, then 300).
DEFAULT_TOOL_TIMEOUT_SEC = 60.0
#: The longest timeout a configuration (or ``call --timeout``) may give: a year. Longer waits
#: overflow the platform's lock timeouts and are not a deadline anyone means.
MAX_TIMEOUT_SEC = 365 * 24 * 3600.0
#: Server names must match this (the OpenAI Responses API charset, so qualified names stay valid).
SERVER_NAME_PATTERN = "^[a-zA-Z0-9_-]+$"
#: Name of the server :func:`embedded_default_servers` provides when no configuration file exists.
EMBEDDED_SERVER_NAME = "workspace"
#: Most automatic retries a config may ask for (each one re-runs an idempotent tool).
MAX_TOOL_RETRIES = 10
#: Seconds an open circuit waits before a trial call, unless ``circuit_cooldown_sec`` says otherwise.
DEFAULT_CIRCUIT_COOLDOWN_SEC = 30.0
#: The largest ``circuit_failures`` a configuration may give.
MAX_CIRCUIT_FAILURES = 1000
#: Values of ``protocol_era``: detect the era with ``server/discover`` (the default), or force one.
#: The same values as ``ClientSession(protocol_era=...)``; a test keeps the two lists equal.
PROTOCOL_ERAS: Tuple[str, ...] = ("auto", "legacy", "modern")

_NAME_RE = re.compile(SERVER_NAME_PATTERN)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: Keys later Codex versions accept: loaded and kept in ``ServerConfig.extras``, otherwise unused.
_CODEX_LATER_KEYS = (
    "supports_parallel_tool_calls",
    "default_tools_approval_mode",
    "tools",
    "auth",
    "environment_id",
    "omit_tools_from",
)
#: Top-level keys of a Codex config.toml that look like ``mcp_servers`` but are legitimate.
_CODEX_MCP_TOP_LEVEL = ("mcp_servers", "mcp_oauth_credentials_store", "mcp_oauth_callback_port", "mcp_oauth_callback_url")
#: JSON ``type`` (and TOML ``transport``) values and the transport each names.
_JSON_TYPES = {
    "stdio": "stdio",
    "http": "streamable_http",
    "streamable-http": "streamable_http",
    "streamable_http": "streamable_http",
    "streamableHttp": "streamable_http",
    "sse": "sse",
}
#: How an HTTP server is reached: Streamable HTTP falling back to HTTP+SSE as the spec says
#: (``auto``), Streamable HTTP only, or the deprecated HTTP+SSE transport only.
HTTP_MODES: Tuple[str, ...] = ("auto", "streamable_http", "sse")
#: Keys of a server's ``oauth`` table.
OAUTH_KEYS: Tuple[str, ...] = (
    "client_id",
    "client_secret_env_var",
    "client_metadata_url",
    "token_endpoint_auth_method",
    "grant_type",
    "callback_port",
    "idp_token_endpoint",
    "idp_client_id",
    "idp_client_secret_env_var",
    "id_token_env_var",
)
#: ``oauth.grant_type`` values: a user logs in, or (the machine grants) no user is needed.
OAUTH_GRANTS: Tuple[str, ...] = ("authorization_code", "client_credentials", "jwt_bearer")
MACHINE_GRANTS: Tuple[str, ...] = ("client_credentials", "jwt_bearer")
_OAUTH_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
_IDP_KEYS = ("idp_token_endpoint", "idp_client_id", "idp_client_secret_env_var", "id_token_env_var")


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def _mapping(value: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value)) if value else _EMPTY


@dataclass(frozen=True)
class ServerConfig:
    """One MCP server: how to reach it, which of its tools to expose, and its time limits.

    A server is **stdio** when ``command`` is set (syncmcp spawns it) and **Streamable HTTP**
    when ``url`` is set; exactly one of the two must be given. Fields and defaults are Codex's
    ``[mcp_servers.NAME]`` table, plus syncmcp's ``tool_retries`` and ``idempotent_tools``.

    Args:
        command: stdio: the program (looked up on ``PATH``).
        args: stdio: its arguments.
        env: stdio: literal environment variables, applied last.
        env_vars: stdio: names of variables copied from this process's environment (besides the
            safe allow-list every child gets).
        cwd: stdio: the child's working directory.
        url: HTTP: the Streamable HTTP endpoint.
        bearer_token_env_var: HTTP: variable holding a bearer token (never the token itself).
        http_headers: HTTP: static headers.
        env_http_headers: HTTP: header name -> variable holding its value.
        enabled: ``False`` skips the server entirely (no start, no events).
        required: a failure to start makes the whole start-up fail (:class:`~syncmcp.StartupError`).
        startup_timeout_sec: one deadline for spawn, handshake and the first full ``tools/list``.
        tool_timeout_sec: default timeout of each tool call and resource request.
        enabled_tools: allow-list of raw tool names (``None``: all); applied first.
        disabled_tools: deny-list of raw tool names; applied second.
        scopes: HTTP: OAuth scopes for a login.
        oauth_resource: HTTP: RFC 8707 ``resource`` sent at login.
        http_mode: HTTP: ``"auto"`` (Streamable HTTP, falling back to the deprecated HTTP+SSE
            transport when the server refuses it), ``"streamable_http"`` or ``"sse"``; set with
            ``transport = "sse"`` in TOML or ``"type": "sse"`` in JSON.
        oauth: HTTP: OAuth client settings: ``client_id`` (a pre-registered client),
            ``client_secret_env_var`` (the variable holding its secret), ``client_metadata_url``
            (a Client ID Metadata Document URL), ``token_endpoint_auth_method``, ``grant_type``
            (``"client_credentials"`` for machine-to-machine use; ``"jwt_bearer"`` for
            enterprise-managed authorization, with ``idp_token_endpoint``, ``idp_client_id``,
            ``idp_client_secret_env_var`` and ``id_token_env_var``, the variable holding the
            user's ID token from the identity provider), ``callback_port`` (a fixed port for the
            login callback).
        tool_retries: how often a call that failed because the server died or the connection
            broke (never after the server answered) is retried, for idempotent tools only.
        idempotent_tools: which tools are safe to retry besides those annotated
            ``idempotentHint: true``: ``True`` for all, or a list of raw tool names.
        protocol_era: ``"auto"`` finds out with ``server/discover`` whether the server speaks
            the 2026-07-28 era or the legacy ``initialize`` handshake, and the manager then
            remembers the answer for restarts; ``"legacy"`` or ``"modern"`` skips the probe.
        memory_limit_mb: stdio: the child's address-space limit in MiB (``RLIMIT_AS``; not on
            macOS or Windows).
        cpu_time_limit_sec: stdio: CPU seconds the child may use (``RLIMIT_CPU``: ``SIGXCPU``,
            then ``SIGKILL`` a CPU second later; not on Windows).
        open_files_limit: stdio: descriptors the child may have open (``RLIMIT_NOFILE``; not on
            Windows).
        max_lifetime_sec: stdio: the manager stops the server after this many seconds of being
            ready; it restarts on its next use (the restart policy's backoff applies).
        fallback: names of other configured servers that take this one's tool calls, tried in
            order, while it is unavailable (see the README's "Fallback servers").
        circuit_failures: consecutive failed calls after which the manager stops sending calls
            to this server for ``circuit_cooldown_sec`` (its circuit opens); ``0``: never.
        circuit_cooldown_sec: seconds an open circuit waits before one trial call may close it.
        extras: keys of later Codex versions that syncmcp accepts but does not use.

    Raises:
        ConfigError: a value of the wrong type, or an invalid transport combination.

    Example:
        >>> ServerConfig(command="npx", args=["-y", "@modelcontextprotocol/server-memory"]).transport
        'stdio'
        >>> ServerConfig(url="https://example.com/mcp").transport
        'streamable_http'
        >>> ServerConfig(command="uvx", args=["mcp-server-time"], protocol_era="legacy").protocol_era
        'legacy'
    """

    command: Optional[str] = None
    args: Tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=_empty)
    env_vars: Tuple[str, ...] = ()
    cwd: Optional[str] = None
    url: Optional[str] = None
    bearer_token_env_var: Optional[str] = None
    http_headers: Mapping[str, str] = field(default_factory=_empty)
    env_http_headers: Mapping[str, str] = field(default_factory=_empty)
    enabled: bool = True
    required: bool = False
    startup_timeout_sec: float = DEFAULT_STARTUP_TIMEOUT_SEC
    tool_timeout_sec: float = DEFAULT_TOOL_TIMEOUT_SEC
    enabled_tools: Optional[Tuple[str, ...]] = None
    disabled_tools: Tuple[str, ...] = ()
    scopes: Tuple[str, ...] = ()
    oauth_resource: Optional[str] = None
    http_mode: str = "auto"
    oauth: Mapping[str, Any] = field(default_factory=_empty)
    tool_retries: int = 0
    idempotent_tools: Union[bool, Tuple[str, ...]] = False
    protocol_era: str = "auto"
    memory_limit_mb: Optional[int] = None
    cpu_time_limit_sec: Optional[int] = None
    open_files_limit: Optional[int] = None
    max_lifetime_sec: Optional[float] = None
    fallback: Tuple[str, ...] = ()
    circuit_failures: int = 0
    circuit_cooldown_sec: float = DEFAULT_CIRCUIT_COOLDOWN_SEC
    extras: Mapping[str, Any] = field(default_factory=_empty, compare=False)

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        check = _Checker(lambda key: key)
        put("command", check.optional_string("command", self.command, non_empty=True))
        put("args", check.strings("args", self.args))
        put("env", _mapping(check.string_table("env", self.env)))
        put("env_vars", check.strings("env_vars", self.env_vars))
        cwd: Any = os.fspath(self.cwd) if isinstance(self.cwd, os.PathLike) else self.cwd
        put("cwd", None if cwd is None else check.string("cwd", cwd, non_empty=True))
        put("url", check.optional_url("url", self.url))
        put("bearer_token_env_var", check.optional_string("bearer_token_env_var", self.bearer_token_env_var, non_empty=True))
        put("http_headers", _mapping(check.headers("http_headers", self.http_headers)))
        put("env_http_headers", _mapping(check.headers("env_http_headers", self.env_http_headers)))
        put("enabled", check.boolean("enabled", self.enabled))
        put("required", check.boolean("required", self.required))
        put("startup_timeout_sec", check.seconds("startup_timeout_sec", self.startup_timeout_sec))
        put("tool_timeout_sec", check.seconds("tool_timeout_sec", self.tool_timeout_sec))
        if self.enabled_tools is not None:
            put("enabled_tools", check.strings("enabled_tools", self.enabled_tools))
        put("disabled_tools", check.strings("disabled_tools", self.disabled_tools))
        put("scopes", check.strings("scopes", self.scopes))
        put("oauth_resource", check.optional_string("oauth_resource", self.oauth_resource))
        put("http_mode", check.choice("http_mode", self.http_mode, HTTP_MODES))
        put("oauth", _mapping(check.oauth("oauth", self.oauth)))
        put("tool_retries", check.retries("tool_retries", self.tool_retries))
        if not isinstance(self.idempotent_tools, bool):
            put("idempotent_tools", check.strings("idempotent_tools", self.idempotent_tools))
        put("protocol_era", check.choice("protocol_era", self.protocol_era, PROTOCOL_ERAS))
        for key in _RLIMIT_FIELDS:
            put(key, check.optional_limit(key, getattr(self, key)))
        if self.max_lifetime_sec is not None:
            put("max_lifetime_sec", check.seconds("max_lifetime_sec", self.max_lifetime_sec))
        put("fallback", check.fallback("fallback", self.fallback))
        put("circuit_failures", check.count("circuit_failures", self.circuit_failures))
        put("circuit_cooldown_sec", check.seconds("circuit_cooldown_sec", self.circuit_cooldown_sec))
        put("extras", _mapping(self.extras))
        if self.command is not None and self.url is not None:
            raise ConfigError("url is not supported for stdio (give either command or url, not both)", key="url")
        if self.command is None and self.url is None:
            raise ConfigError("invalid transport: give either command (stdio) or url (streamable_http)")
        unsupported = _STDIO_ONLY if self.url is not None else _HTTP_ONLY
        for name in unsupported:
            if getattr(self, name):
                raise ConfigError(f"{name} is not supported for {self.transport}", key=name)

    def __hash__(self) -> int:
        return hash(tuple(_hashable(getattr(self, f.name)) for f in fields(self) if f.compare))

    def __repr__(self) -> str:
        """Fields that differ from their defaults; ``env`` and header values masked (they may be secrets)."""
        shown = []
        for item in fields(self):
            value = getattr(self, item.name)
            if value == (item.default_factory() if callable(item.default_factory) else item.default):
                continue
            if item.name in _MASKED_VALUES:
                value = dict.fromkeys(value, "*****")
            elif item.name == "url":
                value = redact_url(value)
            shown.append(f"{item.name}={value!r}")
        return f"ServerConfig({', '.join(shown)})"

    @property
    def transport(self) -> str:
        """``"stdio"``, ``"streamable_http"``, or ``"sse"`` (an HTTP server configured for HTTP+SSE only)."""
        if self.command is not None:
            return "stdio"
        return "sse" if self.http_mode == "sse" else "streamable_http"

    @property
    def display_command(self) -> str:
        """The command line (stdio) or the URL with query values hidden (HTTP), for messages and listings."""
        if self.command is None:
            return redact_url(self.url) if self.url else ""
        return " ".join([self.command, *self.args])

    def is_idempotent(self, tool: str, annotations: Optional[Mapping[str, Any]] = None) -> bool:
        """Whether a call of ``tool`` may be retried: annotated idempotent, or listed as such here."""
        if annotations is not None and annotations.get("idempotentHint") is True:
            return True
        if isinstance(self.idempotent_tools, bool):
            return self.idempotent_tools
        return tool in self.idempotent_tools

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "server", source: Optional[str] = None) -> ServerConfig:
        """Build from one server table as written in a file (Codex's keys, or the JSON shape's).

        Args:
            data: the table, e.g. ``{"command": "npx", "args": ["-y", "pkg"]}``.
            name: the server's name, for error messages (``mcp_servers.<name>.<key>``).
            source: the file it came from, for error messages.

        Raises:
            ConfigError: naming the key, for an unknown key or a wrong value.

        Example:
            >>> ServerConfig.from_dict({"url": "https://x.test/mcp", "bearer_token_env_var": "TOKEN"}).url
            'https://x.test/mcp'
        """
        return _read_server(data, _join("mcp_servers", name), source, json_shape=False)


#: Fields whose values a ``repr`` hides: environment values and headers may hold credentials.
_MASKED_VALUES = ("env", "http_headers")
_STDIO_ONLY = ("args", "env", "env_vars", "cwd", "memory_limit_mb", "cpu_time_limit_sec", "open_files_limit", "max_lifetime_sec")
#: Resource limits set with setrlimit, checked with ``_Checker.optional_limit``.
_RLIMIT_FIELDS = ("memory_limit_mb", "cpu_time_limit_sec", "open_files_limit")
#: The largest value of any of them: 2**40 (in MiB an exbibyte of address space; in seconds 34,000 years).
_MAX_RLIMIT = 2**40
_HTTP_ONLY = ("bearer_token_env_var", "http_headers", "env_http_headers", "oauth_resource", "oauth")


def _hashable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


# ----------------------------------------------------------------------------- value checks


class _Checker:
    """Type checks shared by ``ServerConfig`` and the file reader; ``where(key)`` names the key."""

    def __init__(self, where: Callable[[str], str], source: Optional[str] = None) -> None:
        self.where = where
        self.source = source

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, path=self.source, key=self.where(key))

    def string(self, key: str, value: Any, *, non_empty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_describe(value)}")
        if non_empty and not value.strip():
            raise self.fail(key, "expected a non-empty string")
        return value

    def optional_string(self, key: str, value: Any, *, non_empty: bool = False) -> Optional[str]:
        return None if value is None else self.string(key, value, non_empty=non_empty)

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_describe(value)}")
        return value

    def strings(self, key: str, value: Any) -> Tuple[str, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise self.fail(key, f"expected a list of strings, got {_describe(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{key}[{index}]", f"expected a string, got {_describe(item)}")
        return tuple(value)

    def string_table(self, key: str, value: Any) -> Dict[str, str]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a table of strings, got {_describe(value)}")
        for name, item in value.items():
            if not isinstance(name, str) or not name or "=" in name or "\0" in name:
                raise self.fail(key, f"invalid variable name {name!r}")
            if not isinstance(item, str):
                raise self.fail(_join(key, name), f"expected a string, got {_describe(item)}")
        return dict(value)

    def headers(self, key: str, value: Any) -> Dict[str, str]:
        table = self.string_table(key, value)
        for name, item in table.items():
            if not _HEADER_NAME.match(name):
                raise self.fail(_join(key, name), f"invalid HTTP header name {name!r}")
            if "\r" in item or "\n" in item:
                raise self.fail(_join(key, name), "header values cannot contain line breaks")
        return table

    def seconds(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number of seconds, got {_describe(value)}")
        if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT_SEC:
            raise self.fail(key, f"expected a positive number of seconds up to a year, got {value!r}")
        return float(value)

    def milliseconds(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected a whole number of milliseconds, got {_describe(value)}")
        if not 0 < value <= MAX_TIMEOUT_SEC * 1000:
            raise self.fail(key, f"expected a positive number of milliseconds up to a year, got {value!r}")
        return value / 1000.0

    def retries(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected a whole number, got {_describe(value)}")
        if not 0 <= value <= MAX_TOOL_RETRIES:
            raise self.fail(key, f"expected a number from 0 to {MAX_TOOL_RETRIES}, got {value!r}")
        return value

    def count(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected a whole number, got {_describe(value)}")
        if not 0 <= value <= MAX_CIRCUIT_FAILURES:
            raise self.fail(key, f"expected a number from 0 (off) to {MAX_CIRCUIT_FAILURES}, got {value!r}")
        return value

    def fallback(self, key: str, value: Any) -> Tuple[str, ...]:
        names = self.strings(key, value)
        for index, name in enumerate(names):
            if not _NAME_RE.match(name):
                raise self.fail(f"{key}[{index}]", f"invalid server name '{name}': must match pattern {SERVER_NAME_PATTERN}")
            if name in names[:index]:
                raise self.fail(f"{key}[{index}]", f"'{name}' is listed twice")
        return names

    def optional_limit(self, key: str, value: Any) -> Optional[int]:
        """A resource limit: a positive whole number this platform can apply, or ``None``."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected a whole number, got {_describe(value)} (leave the key out for no limit)")
        if not 0 < value <= _MAX_RLIMIT:
            raise self.fail(key, f"expected a positive whole number up to {_MAX_RLIMIT}, got {value!r}")
        problem = limit_problem(key, value)
        if problem is not None:
            raise self.fail(key, f"cannot be applied: {problem}")
        return value

    def choice(self, key: str, value: Any, choices: Tuple[str, ...]) -> str:
        text = self.string(key, value)
        if text not in choices:
            raise self.fail(key, f"expected one of {', '.join(choices)}, got {text!r}")
        return text

    def oauth(self, key: str, value: Any) -> Dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a table of OAuth settings, got {_describe(value)}")
        settings: Dict[str, Any] = {}
        for name, item in value.items():
            where = _join(key, str(name))
            if name == "client_secret":
                raise self.fail(
                    where,
                    "a client secret is not written in the configuration; put it in an environment variable "
                    "and name it in client_secret_env_var",
                )
            if name not in OAUTH_KEYS:
                raise self.fail(where, _unknown_key_message(str(name), dict.fromkeys(OAUTH_KEYS)))
            if name == "callback_port":
                if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 65536:
                    raise self.fail(where, f"expected a port number from 1 to 65535, got {_describe(item)}")
            elif name == "grant_type":
                _choose(self, key, name, item, OAUTH_GRANTS)
            elif name == "token_endpoint_auth_method":
                _choose(self, key, name, item, _OAUTH_AUTH_METHODS)
            elif name == "client_metadata_url":
                url = self.string(where, item, non_empty=True)
                if not url.startswith("https://"):
                    raise self.fail(where, f"a client metadata document URL must be https://, got {url!r}")
            elif name == "idp_token_endpoint":
                self.optional_url(where, item)
            else:
                self.string(where, item, non_empty=True)
            settings[str(name)] = item
        grant = settings.get("grant_type")
        if grant == "client_credentials" and not (settings.get("client_id") and settings.get("client_secret_env_var")):
            raise self.fail(key, "the client_credentials grant needs client_id and client_secret_env_var")
        idp_keys = [name for name in _IDP_KEYS if name in settings]
        if grant == "jwt_bearer":
            missing = [
                name for name in ("client_id", "idp_token_endpoint", "idp_client_id", "id_token_env_var") if name not in settings
            ]
            if missing:
                raise self.fail(key, f"the jwt_bearer grant (enterprise-managed authorization) needs {', '.join(missing)}")
        elif idp_keys:
            raise self.fail(_join(key, idp_keys[0]), 'identity provider settings go with grant_type = "jwt_bearer"')
        return settings

    def optional_url(self, key: str, value: Any) -> Optional[str]:
        if value is None:
            return None
        import urllib.parse

        text = self.string(key, value, non_empty=True)
        parsed = urllib.parse.urlsplit(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise self.fail(key, f"expected an http:// or https:// URL, got {text!r}")
        return text


def _choose(check: _Checker, key: str, name: str, value: Any, choices: Tuple[str, ...]) -> str:
    where = _join(key, name)
    if not isinstance(value, str) or value not in choices:
        raise check.fail(where, f"expected one of {', '.join(choices)}, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _join(prefix: str, key: str) -> str:
    """A dotted key, quoting a part that is not a bare TOML key: ``mcp_servers."my.server"``."""
    part = key if _BARE_KEY.match(key) else json.dumps(key)
    return f"{prefix}.{part}" if prefix else part


# ----------------------------------------------------------------------------- names


def validate_server_name(name: Any, *, source: Optional[str] = None, key: Optional[str] = None) -> str:
    """Check a server name against ``^[a-zA-Z0-9_-]+$`` (Codex's rule and error text).

    Raises:
        ConfigError: ``Invalid MCP server name '<name>': must match pattern ^[a-zA-Z0-9_-]+$``.

    Example:
        >>> validate_server_name("github")
        'github'
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"Invalid MCP server name '{name}': must match pattern {SERVER_NAME_PATTERN}", path=source, key=key)
    return name


# ----------------------------------------------------------------------------- reading tables

#: key -> kind, for the server tables of both file shapes.
_SERVER_KEYS: Dict[str, str] = {
    "command": "command",
    "args": "strings",
    "env": "string_table",
    "env_vars": "env_vars",
    "cwd": "cwd",
    "url": "url",
    "bearer_token_env_var": "name",
    "bearer_token": "refused",
    "http_headers": "headers",
    "env_http_headers": "headers",
    "enabled": "boolean",
    "required": "boolean",
    "startup_timeout_sec": "seconds",
    "startup_timeout_ms": "milliseconds",
    "tool_timeout_sec": "seconds",
    "enabled_tools": "strings",
    "disabled_tools": "strings",
    "scopes": "strings",
    "oauth_resource": "string",
    "tool_retries": "retries",
    "idempotent_tools": "idempotent",
    "protocol_era": "era",
    "memory_limit_mb": "limit",
    "cpu_time_limit_sec": "limit",
    "open_files_limit": "limit",
    "max_lifetime_sec": "seconds",
    "fallback": "fallback",
    "circuit_failures": "count",
    "circuit_cooldown_sec": "seconds",
    "transport": "type",
    "type": "type",
    "oauth": "oauth",
    **dict.fromkeys(_CODEX_LATER_KEYS, "extra"),
}
#: Keys only the JSON shape (Claude Desktop, Cursor, VS Code) uses.
_JSON_ONLY_KEYS: Dict[str, str] = {"headers": "headers", "disabled": "boolean"}


def _read_server(table: Any, prefix: str, source: Optional[str], *, json_shape: bool) -> ServerConfig:
    check = _Checker(lambda key: f"{prefix}.{key}", source)
    if not isinstance(table, Mapping):
        raise ConfigError(f"expected a table describing the server, got {_describe(table)}", path=source, key=prefix)
    known = dict(_SERVER_KEYS, **(_JSON_ONLY_KEYS if json_shape else {}))
    for key in table:
        if key not in known:
            raise check.fail(_join("", str(key)), _unknown_key_message(str(key), known))
    values: Dict[str, Any] = {}
    extras: Dict[str, Any] = {}
    for key, value in table.items():
        kind = known[key]
        if kind == "command":
            values["command"] = check.string(key, value, non_empty=True)
        elif kind == "strings":
            values[key] = check.strings(key, value)
        elif kind == "string_table":
            values[key] = check.string_table(key, value)
        elif kind == "env_vars":
            values[key] = _read_env_vars(check, key, value)
        elif kind == "cwd":
            values[key] = check.string(key, value, non_empty=True)
        elif kind == "url":
            values[key] = check.optional_url(key, value)
        elif kind == "name":
            values[key] = check.string(key, value, non_empty=True)
        elif kind == "headers":
            values["http_headers" if key == "headers" else key] = check.headers(key, value)
        elif kind == "boolean":
            values[key] = check.boolean(key, value)
        elif kind == "seconds":
            values[key] = check.seconds(key, value)
        elif kind == "milliseconds":
            values[key] = check.milliseconds(key, value)
        elif kind == "string":
            values[key] = check.string(key, value)
        elif kind == "retries":
            values[key] = check.retries(key, value)
        elif kind == "idempotent":
            values[key] = value if isinstance(value, bool) else check.strings(key, value)
        elif kind == "era":
            values[key] = check.choice(key, value, PROTOCOL_ERAS)
        elif kind == "limit":
            values[key] = check.optional_limit(key, value)
        elif kind == "fallback":
            values[key] = check.fallback(key, value)
        elif kind == "count":
            values[key] = check.count(key, value)
        elif kind == "type":
            values[key] = check.string(key, value)
        elif kind == "oauth":
            values[key] = check.oauth(key, value)
        elif kind == "extra":
            if key == "supports_parallel_tool_calls":
                check.boolean(key, value)
            extras[key] = value
    _check_transport(check, table, values)
    if "headers" in table and "http_headers" in table:
        raise check.fail("headers", "give either headers or http_headers, not both")
    if "disabled" in values:
        if "enabled" in values and values["enabled"] == values["disabled"]:
            raise check.fail("disabled", "contradicts enabled")
        values["enabled"] = not values.pop("disabled")
    ms = values.pop("startup_timeout_ms", None)
    if "startup_timeout_sec" not in values and ms is not None:
        values["startup_timeout_sec"] = ms  # Codex: _sec wins when both are set
    try:
        return ServerConfig(**values, extras=extras)
    except ConfigError as exc:  # a rule only the dataclass knows: name the file and dotted key anyway
        message = str(exc)[len(exc.key) + 2 :] if exc.key else str(exc)
        raise ConfigError(message, path=source, key=_join(prefix, exc.key) if exc.key else prefix) from None


def _read_env_vars(check: _Checker, key: str, value: Any) -> Tuple[str, ...]:
    """``env_vars``: names, or (later Codex) ``{name = "X", source = "local"}`` tables."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise check.fail(key, f"expected a list of variable names, got {_describe(value)}")
    names: List[str] = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if isinstance(item, Mapping):
            for inner in item:
                if inner not in ("name", "source"):
                    raise check.fail(_join(where, str(inner)), _unknown_key_message(str(inner), {"name": "", "source": ""}))
            source = item.get("source", "local")
            if source != "local":
                raise check.fail(f"{where}.source", f'only "local" variables are supported, got {_describe(source)}')
            names.append(check.string(f"{where}.name", item.get("name"), non_empty=True))
        else:
            names.append(check.string(where, item, non_empty=True))
    return tuple(names)


def _check_transport(check: _Checker, table: Mapping[str, Any], values: Dict[str, Any]) -> None:
    """Codex's inference and texts: ``command`` ⇒ stdio, else ``url`` ⇒ streamable_http.

    An explicit ``type`` (JSON) or ``transport`` (TOML) must agree with the keys; ``sse`` selects
    the deprecated HTTP+SSE transport, and a TOML ``transport = "streamable_http"`` turns the
    fallback to it off.
    """
    declared_keys = [key for key in ("type", "transport") if key in values]
    if len(declared_keys) > 1:
        raise check.fail("transport", "give either type or transport, not both")
    type_key = declared_keys[0] if declared_keys else "type"
    declared = values.pop(type_key, None)
    if declared is not None and declared not in _JSON_TYPES:
        raise check.fail(type_key, f"expected one of {', '.join(sorted(_JSON_TYPES))}, got {declared!r}")
    present = [key for key in table if key != "headers"] + (["http_headers"] if "headers" in table else [])
    refused: Tuple[str, ...]
    if "command" in values:
        transport = "stdio"
        refused = ("url", "bearer_token_env_var", "bearer_token", "http_headers", "env_http_headers", "oauth_resource", "oauth")
    elif "url" in values:
        transport = "streamable_http"
        refused = ("args", "env", "env_vars", "cwd", "bearer_token")
    else:
        raise check.fail("command", "invalid transport: give either command (stdio) or url (streamable_http)")
    for key in refused:
        if key in present:
            hint = (
                "; put the token in an environment variable and name it in bearer_token_env_var" if key == "bearer_token" else ""
            )
            name = key if key in table else "headers"
            raise check.fail(name, f"{name} is not supported for {transport}{hint}")
    if declared is None:
        return
    wanted = _JSON_TYPES[declared]
    if (wanted == "stdio") != (transport == "stdio"):
        raise check.fail(type_key, f"{type_key} {declared!r} does not match the keys given ({transport})")
    if wanted == "sse":
        values["http_mode"] = "sse"
    elif type_key == "transport" and wanted == "streamable_http":
        values["http_mode"] = "streamable_http"


def _unknown_key_message(key: str, known: Mapping[str, Any]) -> str:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if match:
        return f"unknown key '{key}' (did you mean '{match[0]}'?)"
    return f"unknown key '{key}'; expected one of: {', '.join(sorted(known))}"


# ----------------------------------------------------------------------------- whole files


def parse_config(data: Mapping[str, Any], *, source: Optional[str] = None) -> Dict[str, ServerConfig]:
    """Read the servers of an already parsed configuration document, in document order.

    Accepts Codex's shape (``{"mcp_servers": {...}}``) and the JSON shape (``{"mcpServers":
    {...}}``, or VS Code's ``{"servers": {...}}``). Other top-level keys are ignored (a Codex
    ``config.toml`` holds many), except near misses of ``mcp_servers`` such as ``[mcp.servers.x]``.

    Raises:
        ConfigError: naming ``source`` and the dotted key.

    Example:
        >>> parse_config({"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}})["time"].command
        'uvx'
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a table at the top level, got {_describe(data)}", path=source)
    sections = [key for key in ("mcp_servers", "mcpServers", "servers") if key in data]
    if len(sections) > 1:
        raise ConfigError(f"give servers in one of {', '.join(sections)}, not several", path=source, key=sections[1])
    for key in data:
        if key in sections or key in _CODEX_MCP_TOP_LEVEL:
            continue
        lowered = re.sub(r"[^a-z]", "", str(key).lower())
        if lowered.startswith("mcp") or _close_to_servers(str(key)):
            expected = "mcpServers" if sections == ["mcpServers"] or lowered == "mcpserver" else "mcp_servers"
            hint = "[mcp_servers.NAME]" if expected == "mcp_servers" else '"mcpServers"'
            raise ConfigError(f"unknown key '{key}' (did you mean {hint}?)", path=source, key=_join("", str(key)))
    if not sections:
        return {}
    section = sections[0]
    table = data[section]
    if not isinstance(table, Mapping):
        raise ConfigError(f"expected a table of servers, got {_describe(table)}", path=source, key=section)
    json_shape = section != "mcp_servers"
    servers: Dict[str, ServerConfig] = {}
    for name, entry in table.items():
        prefix = _join(section, str(name))
        validate_server_name(name, source=source, key=prefix)
        servers[name] = _read_server(entry, prefix, source, json_shape=json_shape)
    check_fallbacks(servers, source=source, section=section)
    return servers


def check_fallbacks(servers: Mapping[str, ServerConfig], *, source: Optional[str] = None, section: str = "mcp_servers") -> None:
    """Refuse ``fallback`` lists naming the server itself, a server not configured, or a cycle.

    Raises:
        ConfigError: naming ``source`` and the dotted key (``mcp_servers.a.fallback[0]``).

    Example:
        >>> check_fallbacks({"a": ServerConfig(command="a", fallback=("b",)), "b": ServerConfig(command="b")})
        >>> try:
        ...     check_fallbacks({"a": ServerConfig(command="a", fallback=("a",))})
        ... except ConfigError as exc:
        ...     print(exc)
        mcp_servers.a.fallback[0]: a server cannot be its own fallback
    """
    for name, config in servers.items():
        for index, other in enumerate(config.fallback):
            key = f"{_join(section, name)}.fallback[{index}]"
            if other == name:
                raise ConfigError("a server cannot be its own fallback", path=source, key=key)
            if other not in servers:
                import difflib

                close = difflib.get_close_matches(other, [n for n in servers if n != name], n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"unknown MCP server '{other}'{hint}", path=source, key=key)
    for name in servers:
        cycle = _fallback_cycle(servers, name, [name])
        if cycle is not None:
            index = servers[name].fallback.index(cycle[1])
            raise ConfigError(
                f"fallback cycle: {' -> '.join(cycle)}", path=source, key=f"{_join(section, name)}.fallback[{index}]"
            )


def _fallback_cycle(servers: Mapping[str, ServerConfig], name: str, path: List[str]) -> Optional[List[str]]:
    """A fallback path from ``path[0]`` back to itself through ``name``, if there is one (depth-first)."""
    for other in servers[name].fallback:
        if other == path[0]:
            return [*path, other]
        if other in path or other not in servers:
            continue
        found = _fallback_cycle(servers, other, [*path, other])
        if found is not None:
            return found
    return None


def _close_to_servers(key: str) -> bool:
    import difflib

    return bool(difflib.get_close_matches(key, ["mcp_servers", "mcpServers"], n=1, cutoff=0.8))


def default_config_path() -> Path:
    """``config.toml`` in syncmcp's user configuration directory (platformdirs).

    Example:
        >>> default_config_path().name
        'config.toml'
    """
    import platformdirs

    return platformdirs.user_config_path("syncmcp", appauthor=False) / "config.toml"


def resolve_config_path(path: Union[str, os.PathLike[str], None] = None) -> Path:
    """The file :func:`load_config` reads: ``path``, else ``$SYNCMCP_CONFIG``, else the default.

    Example:
        >>> resolve_config_path("/etc/mcp.toml")
        PosixPath('/etc/mcp.toml')
    """
    if path is not None:
        return Path(path)
    override = os.environ.get(CONFIG_ENV_VAR)
    if override:
        return Path(override)
    return default_config_path()


def load_config(path: Union[str, os.PathLike[str], None] = None) -> Dict[str, ServerConfig]:
    """Load server configurations from a TOML or JSON file, in file order.

    Args:
        path: the file; without it ``$SYNCMCP_CONFIG``, else syncmcp's ``config.toml`` in the
            user configuration directory. A missing *default* file means no servers; a missing
            file that was named explicitly is an error.

    Raises:
        ConfigError: the file is missing (when named), unreadable or invalid; the message names
            the file and the dotted key.

    Example:
        servers = load_config("~/.codex/config.toml")
        list(servers)
        # -> ['files', 'github']
    """
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV_VAR))
    target = resolve_config_path(path).expanduser()
    source = str(target)
    try:
        with open(target, "rb") as handle:
            refusal = check_not_writable_by_others(source, os.fstat(handle.fileno()))
            raw = handle.read()
    except FileNotFoundError:
        if not explicit:
            return {}
        raise ConfigError("configuration file not found", path=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file: {exc.strerror or exc}", path=source) from exc
    if refusal is not None:
        raise ConfigError(f"refusing the configuration file: {refusal}", path=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the file is not UTF-8 text (byte {exc.start})", path=source) from None
    return parse_config(_parse_document(text, target), source=source)


def _parse_document(text: str, target: Path) -> Any:
    suffix = target.suffix.lower()
    as_json = suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{"))
    if as_json:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", path=str(target)) from None
    if sys.version_info >= (3, 11):
        import tomllib  # novm (imported on Python 3.11+ only)
    else:  # pragma: no cover - exercised on Python < 3.11
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(target)) from None


# ----------------------------------------------------------------------------- defaults and helpers


def embedded_default_servers() -> Dict[str, ServerConfig]:
    """The configuration used when no configuration file exists at all: syncmcp's own server.

    One stdio server named ``workspace`` running ``python -m syncmcp serve`` with this
    interpreter. :meth:`MCPManager.from_config` uses it only when neither a path, nor
    ``$SYNCMCP_CONFIG``, nor the default file exists.

    Example:
        >>> embedded_default_servers()["workspace"].args
        ('-m', 'syncmcp', 'serve')
    """
    return {EMBEDDED_SERVER_NAME: ServerConfig(command=sys.executable, args=("-m", "syncmcp", "serve"))}


def resolve_bearer_token(server: str, variable: Optional[str], environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Read an HTTP server's bearer token from the variable its config names (Codex's rules and texts).

    Raises:
        ConfigError: ``Environment variable <VAR> for MCP server '<server>' is not set`` (or
            ``is empty``).

    Example:
        >>> resolve_bearer_token("gh", "GH_TOKEN", {"GH_TOKEN": "abc"})
        'abc'
    """
    if variable is None:
        return None
    value = (os.environ if environ is None else environ).get(variable)
    if value is None:
        raise ConfigError(f"Environment variable {variable} for MCP server '{server}' is not set")
    if not value:
        raise ConfigError(f"Environment variable {variable} for MCP server '{server}' is empty")
    return value


def sends_own_credentials(config: ServerConfig) -> bool:
    """Whether an HTTP server's configuration carries its credentials itself.

    A ``bearer_token_env_var``, or an ``Authorization`` header in ``http_headers`` or
    ``env_http_headers``: no login is involved.

    Example:
        >>> sends_own_credentials(ServerConfig(url="https://a.test/mcp", env_http_headers={"Authorization": "API_AUTH"}))
        True
    """
    headers = (*config.http_headers, *config.env_http_headers)
    return config.bearer_token_env_var is not None or any(header.lower() == "authorization" for header in headers)
