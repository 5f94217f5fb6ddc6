"""Qualified tool names and tool filters: small pure functions, Codex's rules.

Tools of many servers share one namespace keyed by ``server__tool`` (optionally with a prefix,
Codex's ``mcp__server__tool``). The OpenAI Responses API wants function names matching
``^[a-zA-Z0-9_-]+$`` and at most 64 characters, so every other character becomes ``_`` and an
over-long name becomes its first 24 characters plus the 40-hex sha1 of the *raw* qualified name.
An exact duplicate is skipped with a warning; a different raw name that sanitises to a name
already taken gets the sha1 form instead of being dropped. Input order decides who keeps the
plain name, so callers pass servers in configuration order, never in the order they finished
starting. Calls are routed by looking a name up, never by splitting it: names may contain ``__``.

Example:
    >>> qualify_tool_names([("fs", "read.file"), ("fs", "read_file")])
    {'fs__read_file': ('fs', 'read.file'), 'fs__read_file3a82b88cf25cf51c2bf25b136779845870b53f8c': ('fs', 'read_file')}
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from ._display import render_tools
from ._types import Tool

__all__ = [
    "MAX_TOOL_NAME_LENGTH",
    "TOOL_NAME_DELIMITER",
    "ToolFilter",
    "ToolGroup",
    "ToolInfo",
    "ToolMap",
    "build_tool_map",
    "filter_tools",
    "qualified_names",
    "qualify_groups",
    "qualify_tool_names",
    "sanitize_tool_name",
]

logger = logging.getLogger("syncmcp.manager")

#: Between server and tool; it must itself be in the Responses API charset.
TOOL_NAME_DELIMITER = "__"
#: The Responses API's limit on function names.
MAX_TOOL_NAME_LENGTH = 64
_SHA1_HEX_LENGTH = 40
_KEPT_PREFIX = MAX_TOOL_NAME_LENGTH - _SHA1_HEX_LENGTH  # 24

# ASCII only, spelled out: str.isalnum() would accept any Unicode letter.
_VALID = re.compile(r"[A-Za-z0-9_-]+")
_INVALID_CHAR = re.compile(r"[^A-Za-z0-9_-]")


def sanitize_tool_name(name: str) -> str:
    """Replace every character outside ``[A-Za-z0-9_-]`` with ``_`` (one per character); ``""`` -> ``"_"``.

    Example:
        >>> sanitize_tool_name("données.v2")
        'donn_es_v2'
    """
    if _VALID.fullmatch(name):
        return name
    return _INVALID_CHAR.sub("_", name) or "_"


def _sha1_hex(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class _Namer:
    """The qualification state of one pass: raw names seen and names handed out."""

    __slots__ = ("head", "seen_raw", "used")

    def __init__(self, prefix: Optional[str]) -> None:
        self.head = prefix + TOOL_NAME_DELIMITER if prefix is not None else ""
        self.seen_raw: set[str] = set()
        self.used: set[str] = set()

    def claim_all(self, raws: FrozenSet[str]) -> bool:
        """Take a whole group of valid, short, distinct raw names as they are, if none is taken."""
        if self.used.isdisjoint(raws) and self.seen_raw.isdisjoint(raws):
            self.used |= raws
            self.seen_raw |= raws
            return True
        return False

    def name(self, raw: str) -> Optional[str]:
        """The name for one raw qualified name, or ``None`` if it must be skipped."""
        if raw in self.seen_raw:
            logger.warning("skipping duplicated tool %s", raw)
            return None
        self.seen_raw.add(raw)
        name = raw if _VALID.fullmatch(raw) else (_INVALID_CHAR.sub("_", raw) or "_")
        if len(name) > MAX_TOOL_NAME_LENGTH:
            name = name[:_KEPT_PREFIX] + _sha1_hex(raw)
        if name in self.used:
            # A different raw name sanitised (or truncated) to a taken name: disambiguate by the
            # hash of the raw name rather than dropping the tool (Codex dropped it).
            name = name[:_KEPT_PREFIX] + _sha1_hex(raw)
            if name in self.used:
                logger.warning("skipping duplicated tool %s", name)
                return None
        self.used.add(name)
        return name


def _plain(raws: Sequence[str], base: str, tools: Sequence[str]) -> bool:
    """Whether every raw name is valid, at most 64 characters, and distinct (one regex for all)."""
    if not tools or _VALID.fullmatch(base + "".join(tools)) is None:
        return False
    return len(base) + max(map(len, tools)) <= MAX_TOOL_NAME_LENGTH and len(set(raws)) == len(raws)


def qualified_names(pairs: Iterable[Tuple[str, str]], *, prefix: Optional[str] = None) -> List[Optional[str]]:
    """The qualified name of each ``(server, tool)`` pair, in input order; ``None`` for a skipped one.

    Args:
        pairs: raw server and tool names, servers in configuration order, tools in listing order.
        prefix: e.g. ``"mcp"`` for Codex's ``mcp__server__tool`` form.

    Example:
        >>> qualified_names([("s", "t"), ("s", "t")])
        ['s__t', None]
    """
    groups: List[Tuple[str, List[str]]] = []
    for server, tool in pairs:
        if groups and groups[-1][0] == server:
            groups[-1][1].append(tool)
        else:
            groups.append((server, [tool]))
    return [name for group in qualify_groups(groups, prefix=prefix) for name in group]


def qualify_groups(groups: Iterable[Tuple[str, Sequence[str]]], *, prefix: Optional[str] = None) -> List[List[Optional[str]]]:
    """:func:`qualified_names` for tools grouped by server: one list of names per group.

    Example:
        >>> qualify_groups([("a", ["x", "y.z"]), ("b", ["x"])])
        [['a__x', 'a__y_z'], ['b__x']]
    """
    namer = _Namer(prefix)
    result: List[List[Optional[str]]] = []
    for server, tools in groups:
        base = namer.head + server + TOOL_NAME_DELIMITER
        raws = [base + tool for tool in tools]
        if _plain(raws, base, tools) and namer.claim_all(frozenset(raws)):
            result.append(list(raws))
        else:
            result.append([namer.name(raw) for raw in raws])
    return result


class ToolGroup:
    """One server's (filtered) tools, prepared once per tool list for :func:`build_tool_map`.

    Preparing holds the per-tool work (raw names, validity, :class:`ToolInfo` objects), so
    rebuilding the map of every server is mostly set and dict merges.

    Example:
        >>> group = ToolGroup("fs", [Tool("read_file")])
        >>> list(build_tool_map([group]))
        ['fs__read_file']
    """

    __slots__ = ("infos", "plain", "raw_set", "raws", "server", "tools")

    def __init__(self, server: str, tools: Sequence[Tool], prefix: Optional[str] = None) -> None:
        self.server = server
        self.tools = tuple(tools)
        names = [tool.name for tool in self.tools]
        base = (prefix + TOOL_NAME_DELIMITER if prefix is not None else "") + server + TOOL_NAME_DELIMITER
        self.raws = [base + name for name in names]
        self.raw_set = frozenset(self.raws)
        self.plain = _plain(self.raws, base, names)
        make = tuple.__new__  # ToolInfo's generated __new__ costs a Python call per tool
        self.infos: Dict[str, ToolInfo] = {
            raw: make(ToolInfo, (server, tool.name, tool, raw)) for raw, tool in zip(self.raws, self.tools)
        }


def build_tool_map(groups: Iterable[ToolGroup]) -> Dict[str, ToolInfo]:
    """``{qualified_name: ToolInfo}`` for groups in configuration order (same names as :func:`qualified_names`).

    Example:
        >>> sorted(build_tool_map([ToolGroup("a", [Tool("x")]), ToolGroup("b", [Tool("x")])]))
        ['a__x', 'b__x']
    """
    namer = _Namer(None)  # the groups' raw names carry the prefix already
    result: Dict[str, ToolInfo] = {}
    for group in groups:
        if group.plain and namer.claim_all(group.raw_set):
            result.update(group.infos)
            continue
        for raw, tool in zip(group.raws, group.tools):
            name = namer.name(raw)
            if name is None:
                continue
            info = group.infos[raw]
            result[name] = info if name == raw else ToolInfo(group.server, tool.name, tool, name)
    return result


def qualify_tool_names(pairs: Iterable[Tuple[str, str]], *, prefix: Optional[str] = None) -> Dict[str, Tuple[str, str]]:
    """Map each qualified name to its raw ``(server, tool)`` pair (see :func:`qualified_names`).

    Example:
        >>> qualify_tool_names([("server.one", "tool.two")], prefix="mcp")
        {'mcp__server_one__tool_two': ('server.one', 'tool.two')}
    """
    items = list(pairs)
    return {name: pair for name, pair in zip(qualified_names(items, prefix=prefix), items) if name is not None}


class ToolInfo(NamedTuple):
    """One tool of one server, under the qualified name the manager exposes it by.

    Attributes:
        server: the server's configured name.
        tool_name: the tool's raw name on that server (what ``tools/call`` sends).
        tool: the tool's definition.
        qualified_name: ``server__tool``, sanitised and at most 64 characters.

    Example:
        >>> info = ToolInfo("fs", "read.file", Tool("read.file", "Read a file"), "fs__read_file")
        >>> info.function_schema()["name"]
        'fs__read_file'
    """

    server: str
    tool_name: str
    tool: Tool
    qualified_name: str

    @property
    def description(self) -> Optional[str]:
        """The tool's description."""
        return self.tool.description

    @property
    def input_schema(self) -> Dict[str, Any]:
        """The tool's JSON Schema for its arguments."""
        return self.tool.input_schema

    def function_schema(self) -> Dict[str, Any]:
        """``{"name", "description", "parameters"}``: the core of an LLM API's function-tool entry.

        Example:
            >>> ToolInfo("s", "t", Tool("t", "Does t", {"type": "object"}), "s__t").function_schema()
            {'name': 's__t', 'description': 'Does t', 'parameters': {'type': 'object'}}
        """
        return {
            "name": self.qualified_name,
            "description": self.tool.description or self.tool.display_name,
            "parameters": dict(self.tool.input_schema) or {"type": "object", "properties": {}},
        }


class ToolMap(Dict[str, ToolInfo]):
    """``{qualified_name: ToolInfo}``: a plain ``dict`` that renders as a table in notebooks.

    Example:
        >>> tools = ToolMap({"fs__read": ToolInfo("fs", "read", Tool("read", "Read a file"), "fs__read")})
        >>> list(tools), tools.by_server()
        (['fs__read'], {'fs': ['fs__read']})
    """

    def _repr_html_(self) -> str:
        return render_tools([info.tool for info in self.values()], names=list(self))

    def by_server(self) -> Dict[str, List[str]]:
        """Qualified names grouped by server, in order."""
        groups: Dict[str, List[str]] = {}
        for name, info in self.items():
            groups.setdefault(info.server, []).append(name)
        return groups


@dataclass(frozen=True)
class ToolFilter:
    """Which raw tool names of one server are exposed: the allow-list first, then the deny-list.

    ``enabled=None`` allows every tool; an empty ``enabled`` allows none; a name on both lists is
    denied. Matching is exact, on raw names.

    Example:
        >>> f = ToolFilter(enabled=frozenset({"keep", "remove"}), disabled=frozenset({"remove"}))
        >>> f.allows("keep"), f.allows("remove"), f.allows("unknown")
        (True, False, False)
    """

    enabled: Optional[FrozenSet[str]] = None
    disabled: FrozenSet[str] = frozenset()

    @classmethod
    def from_lists(cls, enabled: Optional[Iterable[str]] = None, disabled: Iterable[str] = ()) -> ToolFilter:
        """Build from ``enabled_tools`` / ``disabled_tools`` as a configuration gives them.

        Example:
            >>> ToolFilter.from_lists(None, ["write_file"]).allows("write_file")
            False
        """
        return cls(None if enabled is None else frozenset(enabled), frozenset(disabled))

    def allows(self, tool_name: str) -> bool:
        """Whether the tool is exposed and may be called."""
        if self.enabled is not None and tool_name not in self.enabled:
            return False
        return tool_name not in self.disabled

    @property
    def allows_all(self) -> bool:
        """Whether the filter lets every tool through (no allow-list, empty deny-list)."""
        return self.enabled is None and not self.disabled


def filter_tools(tools: Iterable[ToolInfo], tool_filter: ToolFilter) -> List[ToolInfo]:
    """The tools the filter allows, order kept.

    Example:
        >>> tools = [ToolInfo("s", "a", Tool("a"), "s__a"), ToolInfo("s", "b", Tool("b"), "s__b")]
        >>> [t.tool_name for t in filter_tools(tools, ToolFilter.from_lists(None, ["b"]))]
        ['a']
    """
    return [tool for tool in tools if tool_filter.allows(tool.tool_name)]
