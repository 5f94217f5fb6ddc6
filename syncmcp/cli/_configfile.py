"""The configuration file as the command line sees it: which file, its servers, ``-c`` overrides, edits.

Which file: ``--config-file PATH``, else ``$SYNCMCP_CONFIG``, else ``config.toml`` in syncmcp's
user configuration directory. When none of these exists the configuration is the embedded
default (one server, ``workspace``: ``python -m syncmcp serve``), exactly as
:meth:`MCPManager.from_config <syncmcp.MCPManager.from_config>` does; a file that was named
explicitly and does not exist is an error for the commands that start servers.

``-c key=value`` overrides use Codex's dotted form: the key is split on ``.``, the value is read
as a TOML value (``42``, ``true``, ``["a", "b"]``, ``{ K = "v" }``) and otherwise taken as a
string (``-c mcp_servers.test.command=python``). They apply to what the file (or the embedded
default) holds, for this run only; ``mcp_servers`` also names the ``mcpServers`` object of a JSON
file. When the result is invalid because of an override, the error names it (``-c
mcp_servers.a.args=oops: mcp_servers.a.args: expected a list of strings ...``), not the file.

Edits (``add``, ``remove``) work in the section the file uses (``mcp_servers``, ``mcpServers`` or
``servers``), hold a ``filelock`` lock file next to the configuration for the whole
read-modify-write, build the new text (TOML: :mod:`._tomledit`, byte for byte outside what
changes; JSON: re-serialised with the file's indentation and key order), parse and validate it with
:func:`~syncmcp.load_config`'s rules *before* anything is written, check that the server was
really added or removed, then replace the file atomically (a temporary file in the same folder,
fsynced, renamed over the old one, mode kept; ``0600`` for a new file since it may hold secrets).
A symlinked configuration is edited where it points. ``add`` over an existing server replaces its
transport (:data:`TRANSPORT_KEYS`) and keeps its other settings (:func:`merge_entry`). JSON files
are shared with Claude Desktop, Cursor and VS Code, so they get only keys those read (see
:func:`_json_entry`).

Example:
    >>> parse_override('mcp_servers.test.args=["-m", "demo"]')[:2]
    (('mcp_servers', 'test', 'args'), ['-m', 'demo'])
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from .._config import (
    CONFIG_ENV_VAR,
    ServerConfig,
    default_config_path,
    embedded_default_servers,
    parse_config,
)
from .._exceptions import ConfigError
from ._exits import EXIT_USAGE, CLIError
from ._tomledit import SECTION, TomlEditError, edit_server, parse_toml

__all__ = [
    "LOCK_TIMEOUT",
    "TRANSPORT_KEYS",
    "ConfigSource",
    "EditResult",
    "Override",
    "apply_overrides",
    "edit_config",
    "load_source",
    "merge_entry",
    "parse_override",
    "resolve_path",
    "server_entry",
]

#: Seconds an edit waits for another process's edit of the same file to finish.
LOCK_TIMEOUT = 10.0
#: The sections that may hold servers, in the order :func:`~syncmcp._config.parse_config` checks.
_SECTIONS = ("mcp_servers", "mcpServers", "servers")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Override(NamedTuple):
    """One ``-c key=value``: the dotted key split into parts, the value, and the option as given.

    Example:
        >>> Override(("mcp_servers", "t", "command"), "python", "mcp_servers.t.command=python").key
        ('mcp_servers', 't', 'command')
    """

    key: Tuple[str, ...]
    value: Any
    text: str


def parse_override(text: str) -> Override:
    """Parse one ``-c key=value`` (Codex's rules and error texts).

    Raises:
        CLIError: no ``=``, or an empty key or key part.

    Example:
        >>> parse_override("mcp_servers.test.command=python")[:2]
        (('mcp_servers', 'test', 'command'), 'python')
        >>> parse_override("mcp_servers.test.startup_timeout_sec=30").value
        30
    """
    key, sep, raw = text.partition("=")
    if not sep:
        raise CLIError(f"invalid override (missing '='): {text}")
    key = key.strip()
    if not key:
        raise CLIError(f"empty key in override: {text}")
    parts = tuple(part.strip() for part in key.split("."))
    if not all(parts):
        raise CLIError(f"invalid key in override (empty part): {text}")
    raw = raw.strip()
    try:
        value = parse_toml(f"_x_ = {raw}")["_x_"] if "\n" not in raw else None
    except (TomlEditError, KeyError):
        value = None
    if value is None:  # not a TOML value: a bare string, quotes trimmed (Codex)
        value = raw.strip("\"'")
    return Override(parts, value, text.strip())


def apply_overrides(
    document: Mapping[str, Any], overrides: Sequence[Union[Override, Tuple[Tuple[str, ...], Any]]]
) -> Dict[str, Any]:
    """A copy of ``document`` with the overrides applied (tables created as needed).

    ``mcp_servers.…`` addresses the document's servers whatever their section is called.

    Raises:
        CLIError: a key passes through a value that is not a table.

    Example:
        >>> apply_overrides({"mcpServers": {}}, [(("mcp_servers", "t", "command"), "x")])
        {'mcpServers': {'t': {'command': 'x'}}}
    """
    result = copy.deepcopy(dict(document))
    section = next((name for name in _SECTIONS if name in result), SECTION)
    for key, value, *_ in overrides:
        parts = (section, *key[1:]) if key[0] == SECTION else key
        node = result
        for index, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = ".".join(parts[: index + 1])
                raise CLIError(f"cannot apply -c {'.'.join(parts)}: {where} is not a table")
            node = child
        node[parts[-1]] = value
    return result


def resolve_path(config_file: Optional[str]) -> Tuple[Path, bool]:
    """The configuration file to use and whether it was named explicitly.

    Example:
        >>> resolve_path("/etc/syncmcp.toml")
        (PosixPath('/etc/syncmcp.toml'), True)
    """
    if config_file:
        return Path(config_file).expanduser(), True
    named = os.environ.get(CONFIG_ENV_VAR)
    if named:
        return Path(named).expanduser(), True
    return default_config_path(), False


def _shape(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{")):
        return "json"
    return "toml"


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the file is not UTF-8 text (byte {exc.start})", path=str(path)) from None


def _parse(path: Path, text: str) -> Dict[str, Any]:
    if _shape(path, text) == "json":
        try:
            document = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", path=str(path)) from None
    else:
        try:
            document = parse_toml(text)
        except TomlEditError as exc:
            raise ConfigError(str(exc), path=str(path)) from None
    if not isinstance(document, dict):
        raise ConfigError("expected a table (an object) at the top level", path=str(path))
    return document


def _builtin_document() -> Dict[str, Any]:
    servers = embedded_default_servers()
    return {
        SECTION: {
            name: {"command": config.command, "args": list(config.args)}
            for name, config in servers.items()
            if config.command is not None
        }
    }


@dataclass(frozen=True)
class ConfigSource:
    """The configuration a command works with.

    Attributes:
        path: the file commands read and ``add``/``remove`` edit.
        exists: whether that file exists.
        explicit: named by ``--config-file`` or ``$SYNCMCP_CONFIG``.
        builtin: no file, so the embedded default server is in use.
        document: the parsed document with the ``-c`` overrides applied.
        servers: the validated servers, in file order.

    Example:
        source = load_source(None, [])
        list(source.servers), source.builtin
        # -> (['workspace'], True)
    """

    path: Path
    exists: bool
    explicit: bool
    builtin: bool
    document: Dict[str, Any]
    servers: Dict[str, ServerConfig]

    @property
    def label(self) -> str:
        """The file's path, or a description of the built-in default."""
        return str(self.path) if not self.builtin else f"built-in default (no file at {self.path})"


def load_source(config_file: Optional[str], overrides: Sequence[Override], *, missing_ok: bool = False) -> ConfigSource:
    """Read the configuration, apply the overrides and validate every server.

    Args:
        config_file: ``--config-file``, if given.
        overrides: parsed ``-c`` options.
        missing_ok: an explicitly named file that does not exist counts as empty (``list``,
            ``get``); otherwise it is an error.

    Raises:
        ConfigError: the file is unreadable or invalid, or the overrides make it invalid.

    Example:
        source = load_source("~/.codex/config.toml", [parse_override("mcp_servers.t.command=python")])
    """
    path, explicit = resolve_path(config_file)
    try:
        raw: Optional[bytes] = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a configuration file", path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file: {exc.strerror or exc}", path=str(path)) from None
    builtin = False
    if raw is not None:
        document = _parse(path, _decode(path, raw))
    elif explicit and not missing_ok:
        raise ConfigError("configuration file not found", path=str(path))
    elif explicit:
        document = {}
    else:
        document, builtin = _builtin_document(), True
    source = f"built-in default (no file at {path})" if builtin else str(path)
    merged = apply_overrides(document, overrides)
    try:
        servers = parse_config(merged, source=source)
    except ConfigError as exc:
        raise _blame(exc, document, overrides, source) from None
    return ConfigSource(path, raw is not None, explicit, builtin, merged, servers)


def _dotted(parts: Sequence[str]) -> str:
    """A key path as :mod:`syncmcp._config` writes it in messages (``mcp_servers."a.b".args``)."""
    return ".".join(part if _BARE_KEY.fullmatch(part) else json.dumps(part) for part in parts)


def _blame(error: ConfigError, document: Mapping[str, Any], overrides: Sequence[Override], source: str) -> ConfigError:
    """The error to report when the configuration with the ``-c`` overrides is invalid.

    An override whose key is the invalid key or one above it is named instead of the file
    (``-c mcp_servers.a.args=oops: mcp_servers.a.args: expected ...``); when none is, but the
    file alone is valid, the overrides of the server concerned (or all of them) are named.
    Otherwise the file is at fault and the error stays as it is.
    """
    if not overrides or error.key is None:
        return error
    message = str(error)
    prefix = f"{error.path}: {error.key}: " if error.path else f"{error.key}: "
    reason = message[len(prefix) :] if message.startswith(prefix) else message
    section = next((name for name in _SECTIONS if name in document), SECTION)
    keys = [_dotted((section, *item.key[1:]) if item.key[0] == SECTION else item.key) for item in overrides]
    culprits = [
        item for item, dotted in zip(overrides, keys) if error.key == dotted or error.key.startswith((dotted + ".", dotted + "["))
    ][-1:]  # the last one wins, as when they were applied
    if not culprits:
        try:
            parse_config(document, source=source)
        except ConfigError:
            return error  # the file itself is invalid
        server = ".".join(error.key.split(".")[:2])
        culprits = [item for item, dotted in zip(overrides, keys) if dotted.startswith(server + ".")] or list(overrides)
    where = " ".join(f"-c {item.text}" for item in culprits)
    return ConfigError(reason, path=where, key=error.key)


# ----------------------------------------------------------------------------- editing


@dataclass(frozen=True)
class EditResult:
    """What :func:`edit_config` did.

    Attributes:
        path: the file edited (symlinks resolved).
        changed: the file was written.
        created: the file did not exist before.
        existed: the server was in the file before.
        replaced: for an ``add`` over an existing server, its keys the new entry replaced (or
            removed: ``env`` without ``--env``).
        kept: its other settings, kept (``enabled_tools``, timeouts, ...).
        dropped: its settings the new transport does not accept, removed (``cwd`` when a command
            becomes a URL).

    Example:
        >>> EditResult(Path("c.toml"), changed=True, created=False, existed=False).changed
        True
    """

    path: Path
    changed: bool
    created: bool
    existed: bool
    replaced: Tuple[str, ...] = ()
    kept: Tuple[str, ...] = ()
    dropped: Tuple[str, ...] = ()


#: Keys ``add`` writes: an existing server's are replaced by the new entry's (or removed).
TRANSPORT_KEYS = ("type", "command", "args", "env", "url", "bearer_token_env_var")
#: Keys only a stdio server accepts, and keys only an HTTP server accepts (syncmcp's and Codex's
#: rules, with the JSON shape's ``headers``): kept only while the transport stays the same.
_STDIO_ONLY = ("env_vars", "cwd")
_HTTP_ONLY = ("http_headers", "env_http_headers", "headers", "oauth_resource")


def merge_entry(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> Tuple[Dict[str, Any], Tuple[str, ...], Tuple[str, ...], Tuple[str, ...]]:
    """``new`` (a transport, as ``add`` writes it) with ``old``'s other settings.

    Returns:
        ``(entry, replaced, kept, dropped)``: the merged entry, and ``old``'s keys that ``new``
        replaced (or removed), that were kept, and that were dropped because the new transport
        does not accept them.

    Example:
        >>> merge_entry({"command": "a", "cwd": "/w", "enabled_tools": ["x"]}, {"url": "https://h/mcp"})
        ({'url': 'https://h/mcp', 'enabled_tools': ['x']}, ('command',), ('enabled_tools',), ('cwd',))
    """
    refused = _HTTP_ONLY if "command" in new else _STDIO_ONLY
    merged = dict(new)
    replaced, kept, dropped = [], [], []
    for key, value in old.items():
        if key in TRANSPORT_KEYS:
            if key != "type":
                replaced.append(key)
        elif key in refused:
            dropped.append(key)
        else:
            merged[key] = value
            kept.append(key)
    return merged, tuple(replaced), tuple(kept), tuple(dropped)


def _json_entry(target: Path, name: str, entry: Mapping[str, Any], section: str) -> Dict[str, Any]:
    """``entry`` in the shape Claude Desktop, Cursor and VS Code read.

    ``command``, ``args``, ``env`` and ``url`` are theirs already. An HTTP server gets ``"type":
    "http"`` (VS Code and Claude Code need it), a stdio server ``"type": "stdio"`` in VS Code's
    ``servers`` only. ``bearer_token_env_var`` is refused: those clients do not read it, and each
    puts a variable in a header its own way (Claude Code ``${VAR}``, Cursor ``${env:VAR}``, VS
    Code ``${input:ID}``), which syncmcp does not expand.
    """
    if "bearer_token_env_var" in entry:
        raise CLIError(
            f"cannot write --bearer-token-env-var to {target}: JSON configurations are shared with Claude, Cursor "
            "and VS Code, which do not read bearer_token_env_var (and put variables in headers each its own way, "
            f"which syncmcp does not expand); keep MCP server '{name}' in a TOML configuration ([mcp_servers.{name}] "
            "in a .toml file named with --config-file)"
        )
    result: Dict[str, Any] = {}
    if "url" in entry:
        result["type"] = "http"
    elif section == "servers":
        result["type"] = "stdio"
    result.update(entry)
    return result


def _json_indent(text: str) -> Any:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            whitespace = line[: len(line) - len(stripped)]
            return "\t" if whitespace.startswith("\t") else len(whitespace)
    return 2


def _edit_json(target: Path, text: str, name: str, entry: Optional[Mapping[str, Any]]) -> str:
    document = json.loads(text) if text.strip() else {}
    section = next((key for key in _SECTIONS if key in document), "mcpServers")
    servers = document.get(section)
    if servers is None:
        servers = document[section] = {}
    if not isinstance(servers, dict):
        raise CLIError(f"cannot edit: {section} is not an object")
    if entry is None:
        servers.pop(name, None)
    else:
        servers[name] = _json_entry(target, name, entry, section)
    return json.dumps(document, indent=_json_indent(text), ensure_ascii=False) + "\n"


def _section_of(document: Mapping[str, Any]) -> str:
    """The section holding the servers (``mcp_servers``, ``mcpServers`` or ``servers``)."""
    return next((key for key in _SECTIONS if isinstance(document.get(key), Mapping)), SECTION)


def _servers_in(document: Mapping[str, Any]) -> Mapping[str, Any]:
    table = document.get(_section_of(document))
    return table if isinstance(table, Mapping) else {}


def _write_atomically(target: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a temporary file beside ``target``, fsync it, rename it over ``target``."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if hasattr(os, "fchmod"):  # POSIX; on Windows the new file keeps the default mode
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        folder = os.open(str(target.parent), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def edit_config(path: Path, name: str, entry: Optional[Mapping[str, Any]], *, lock_timeout: float = LOCK_TIMEOUT) -> EditResult:
    """Add server ``name`` with the transport ``entry``, or remove it (``None``), in the file at ``path``, safely.

    The servers' section is the one the file uses (``mcp_servers``, ``mcpServers`` or
    ``servers``). A server that is already there gets the new transport and keeps its other
    settings (:func:`merge_entry`); the result says which.

    Args:
        path: the configuration file (created, with its folder, when missing).
        name: the server's name (already validated).
        entry: the server's table in Codex's keys, e.g. ``{"command": "npx", "args": [...]}``.
        lock_timeout: seconds to wait for another edit of the same file.

    Returns:
        What happened; removing a server that is not there changes nothing.

    Raises:
        ConfigError: the file is invalid, or the edit would make it invalid (nothing is written).
        CLIError: the file cannot be edited safely, locked for too long, or written; or the edit
            did not do what was asked (nothing is written).

    Example:
        edit_config(Path("~/.config/syncmcp/config.toml").expanduser(), "time", {"command": "uvx", "args": ["mcp-server-time"]})
    """
    import filelock

    target = Path(os.path.realpath(path))
    if entry is None and not target.exists():  # nothing to remove: create no folder, no lock file
        return EditResult(target, changed=False, created=False, existed=False)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create the folder {target.parent}: {exc.strerror or exc}") from None
    lock = filelock.FileLock(str(target) + ".lock", timeout=lock_timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise CLIError(
            f"{target} is being edited by another process (lock {lock.lock_file} held for {lock_timeout:g} s)"
        ) from None
    except OSError as exc:
        raise CLIError(f"cannot lock {target}: {exc.strerror or exc}") from None
    try:
        return _edit_locked(target, name, entry)
    finally:
        lock.release()


def _edit_locked(target: Path, name: str, entry: Optional[Mapping[str, Any]]) -> EditResult:
    try:
        raw: Optional[bytes] = target.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        raise CLIError(f"cannot read {target}: {exc.strerror or exc}") from None
    text = _decode(target, raw) if raw is not None else ""
    bom = raw is not None and raw.startswith(b"\xef\xbb\xbf")
    old_document = _parse(target, text)
    section = _section_of(old_document)
    current = _servers_in(old_document).get(name)
    existed = current is not None
    if entry is None and not existed:
        return EditResult(target, changed=False, created=False, existed=False)
    replaced: Tuple[str, ...] = ()
    kept: Tuple[str, ...] = ()
    dropped: Tuple[str, ...] = ()
    if entry is not None and isinstance(current, Mapping):
        entry, replaced, kept, dropped = merge_entry(current, entry)
    shape = _shape(target, text)
    try:
        new_text = _edit_json(target, text, name, entry) if shape == "json" else edit_server(text, name, entry, section=section)
    except TomlEditError as exc:
        raise CLIError(f"{target}: {exc}; the file was not changed", EXIT_USAGE) from None
    new_document = _parse(target, new_text)
    if (name in _servers_in(new_document)) != (entry is not None):  # never report an edit that did not happen
        raise CLIError(
            f"{target}: the edit did not {'add' if entry is not None else 'remove'} MCP server '{name}' in [{section}]; "
            "the file was not changed (please report this, with the file)"
        )
    try:
        parse_config(new_document, source=str(target))
    except ConfigError as exc:
        raise ConfigError(f"{exc}; the file was not changed") from None
    data = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
    changed = raw != data
    if changed:
        mode = stat.S_IMODE(target.stat().st_mode) if raw is not None else 0o600
        try:
            _write_atomically(target, data, mode)
        except OSError as exc:
            raise CLIError(f"cannot write {target}: {exc.strerror or exc}; the file was not changed") from None
    return EditResult(target, changed, raw is None, existed, replaced, kept, dropped)


def server_entry(
    *,
    command: Optional[Sequence[str]] = None,
    env: Optional[Sequence[Tuple[str, str]]] = None,
    url: Optional[str] = None,
    bearer_token_env_var: Optional[str] = None,
) -> Dict[str, Any]:
    """The table ``add`` writes, in Codex's key order (empty ``args``/``env`` left out).

    Example:
        >>> server_entry(command=["uvx", "mcp-server-time"], env=[("TZ", "UTC")])
        {'command': 'uvx', 'args': ['mcp-server-time'], 'env': {'TZ': 'UTC'}}
    """
    entry: Dict[str, Any] = {}
    if command:
        entry["command"] = command[0]
        if len(command) > 1:
            entry["args"] = list(command[1:])
        if env:
            entry["env"] = dict(env)
    elif url is not None:
        entry["url"] = url
        if bearer_token_env_var:
            entry["bearer_token_env_var"] = bearer_token_env_var
    return entry
