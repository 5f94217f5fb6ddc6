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
file.

Edits (``add``, ``remove``) hold a ``filelock`` lock file next to the configuration for the whole
read-modify-write, build the new text (TOML: :mod:`._tomledit`, byte for byte outside the edited
server; JSON: re-serialised with the file's indentation and key order), parse and validate it with
:func:`~syncmcp.load_config`'s rules *before* anything is written, then replace the file
atomically (a temporary file in the same folder, fsynced, renamed over the old one, mode kept;
``0600`` for a new file since it may hold secrets). A symlinked configuration is edited where it
points.

Example:
    >>> parse_override('mcp_servers.test.args=["-m", "demo"]')
    (('mcp_servers', 'test', 'args'), ['-m', 'demo'])
"""

from __future__ import annotations

import copy
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

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
    "ConfigSource",
    "EditResult",
    "apply_overrides",
    "edit_config",
    "load_source",
    "parse_override",
    "resolve_path",
    "server_entry",
]

#: Seconds an edit waits for another process's edit of the same file to finish.
LOCK_TIMEOUT = 10.0
#: The sections that may hold servers, in the order :func:`~syncmcp._config.parse_config` checks.
_SECTIONS = ("mcp_servers", "mcpServers", "servers")

Override = Tuple[Tuple[str, ...], Any]


def parse_override(text: str) -> Override:
    """Parse one ``-c key=value`` (Codex's rules and error texts).

    Raises:
        CLIError: no ``=``, or an empty key or key part.

    Example:
        >>> parse_override("mcp_servers.test.command=python")
        (('mcp_servers', 'test', 'command'), 'python')
        >>> parse_override("mcp_servers.test.startup_timeout_sec=30")[1]
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
    return parts, value


def apply_overrides(document: Mapping[str, Any], overrides: Sequence[Override]) -> Dict[str, Any]:
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
    for key, value in overrides:
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
    document = apply_overrides(document, overrides)
    source = f"built-in default (no file at {path})" if builtin else str(path)
    servers = parse_config(document, source=source)
    return ConfigSource(path, raw is not None, explicit, builtin, document, servers)


# ----------------------------------------------------------------------------- editing


@dataclass(frozen=True)
class EditResult:
    """What :func:`edit_config` did.

    Example:
        >>> EditResult(Path("c.toml"), changed=True, created=False, existed=False).changed
        True
    """

    path: Path
    changed: bool  # the file was written
    created: bool  # the file did not exist before
    existed: bool  # the server was in the file before


def _json_entry(entry: Mapping[str, Any], section: str) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    if section == "servers":  # VS Code's shape names the transport
        result["type"] = "stdio" if "command" in entry else "http"
    result.update(entry)
    return result


def _json_indent(text: str) -> Any:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            whitespace = line[: len(line) - len(stripped)]
            return "\t" if whitespace.startswith("\t") else len(whitespace)
    return 2


def _edit_json(text: str, name: str, entry: Optional[Mapping[str, Any]]) -> str:
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
        servers[name] = _json_entry(entry, section)
    return json.dumps(document, indent=_json_indent(text), ensure_ascii=False) + "\n"


def _servers_in(document: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in _SECTIONS:
        table = document.get(key)
        if isinstance(table, Mapping):
            return table
    return {}


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
    """Set server ``name`` to ``entry`` (``None``: remove it) in the file at ``path``, safely.

    Args:
        path: the configuration file (created, with its folder, when missing).
        name: the server's name (already validated).
        entry: the server's table in Codex's keys, e.g. ``{"command": "npx", "args": [...]}``.
        lock_timeout: seconds to wait for another edit of the same file.

    Returns:
        What happened; removing a server that is not there changes nothing.

    Raises:
        ConfigError: the file is invalid, or the edit would make it invalid (nothing is written).
        CLIError: the file cannot be edited safely, locked for too long, or written.

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
    existed = name in _servers_in(old_document)
    if entry is None and not existed:
        return EditResult(target, changed=False, created=False, existed=False)
    shape = _shape(target, text)
    try:
        new_text = _edit_json(text, name, entry) if shape == "json" else edit_server(text, name, entry)
    except TomlEditError as exc:
        raise CLIError(f"{target}: {exc}; the file was not changed", EXIT_USAGE) from None
    new_document = _parse(target, new_text)
    try:
        parse_config(new_document, source=str(target))
    except ConfigError as exc:
        raise ConfigError(f"{exc}; the file was not changed") from None
    data = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
    if raw == data:
        return EditResult(target, changed=False, created=False, existed=existed)
    mode = stat.S_IMODE(target.stat().st_mode) if raw is not None else 0o600
    try:
        _write_atomically(target, data, mode)
    except OSError as exc:
        raise CLIError(f"cannot write {target}: {exc.strerror or exc}; the file was not changed") from None
    return EditResult(target, changed=True, created=raw is None, existed=existed)


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
