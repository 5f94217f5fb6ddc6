r"""A small text-level TOML editor: replace, add or remove one ``[mcp_servers.NAME]`` entry.

Everything else in the file stays byte for byte: comments, blank lines, key order, quoting,
other tables, line endings. The document is scanned into whole-line *statements* (blank lines,
comments, table headers, key/value pairs, the latter possibly spanning lines through multi-line
strings and arrays); a server owns the headers whose path starts with ``mcp_servers.NAME`` (with
their bodies) and the key/value pairs whose full path does. Edits then splice text:

* **replace** keeps the position and the comments above the server's first table and writes the
  new table in its place (a server written as ``NAME = {...}`` under ``[mcp_servers]`` stays an
  inline table, so the keys after it keep their table);
* **add** puts a new table after the last ``[mcp_servers.*]`` table, or at the end of the file,
  separated by one blank line;
* **remove** deletes the server's tables and keys with the comment lines directly above each, and
  one blank line when the table stood between blank lines (or last), so removing a server that
  ``add`` appended gives back the original bytes.

The editor never decides alone that an edit is right: :func:`edit_server` parses the old and the
new text with ``tomllib`` and checks that the new document equals the old one with exactly the
requested change, refusing otherwise (:class:`TomlEditError`). Servers inside an inline
``mcp_servers = {...}`` table are refused too (rewriting that table would reformat it).

Example:
    >>> text = "# mine\nmodel = 'o3'\n"
    >>> print(edit_server(text, "time", {"command": "uvx", "args": ["mcp-server-time"]}), end="")
    # mine
    model = 'o3'
    <BLANKLINE>
    [mcp_servers.time]
    command = "uvx"
    args = ["mcp-server-time"]
"""

from __future__ import annotations

import copy
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ["SECTION", "TomlEditError", "edit_server", "parse_toml", "render_server_table", "render_value"]

#: The top-level table holding the servers (Codex's name).
SECTION = "mcp_servers"

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_UNESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}


class TomlEditError(ValueError):
    r"""The edit cannot be made safely; the file must be left as it is.

    Example:
        >>> try:
        ...     edit_server("mcp_servers = { a = { command = 'x' } }\n", "a", None)
        ... except TomlEditError as exc:
        ...     print(str(exc).split(";")[0])
        mcp_servers is written as an inline table (line 1)
    """


def parse_toml(text: str) -> Dict[str, Any]:
    """Parse TOML text with ``tomllib`` (``tomli`` before Python 3.11).

    Raises:
        TomlEditError: the text is not valid TOML (with the parser's line and column).

    Example:
        >>> parse_toml("a = 1")
        {'a': 1}
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python < 3.11
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
    try:
        document: Dict[str, Any] = tomllib.loads(text)
        return document
    except tomllib.TOMLDecodeError as exc:
        raise TomlEditError(f"invalid TOML: {exc}") from None


# ----------------------------------------------------------------------------- rendering


def _render_string(value: str) -> str:
    out: List[str] = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _render_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _render_string(key)


def render_value(value: Any) -> str:
    r"""A TOML value for strings, booleans, numbers, lists and tables (tables inline).

    Example:
        >>> render_value({"A B": "x\ty", "n": [1, True]})
        '{ "A B" = "x\\ty", n = [1, true] }'
    """
    if isinstance(value, str):
        return _render_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return "nan"
        if isinstance(value, float) and math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_render_key(str(k))} = {render_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(item) for item in value) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} to TOML")


def render_server_table(name: str, entry: Mapping[str, Any], newline: str = "\n") -> str:
    """The ``[mcp_servers.NAME]`` table for one server, keys in the order given.

    Example:
        >>> print(render_server_table("fs", {"command": "npx", "env": {"K": "v"}}), end="")
        [mcp_servers.fs]
        command = "npx"
        env = { K = "v" }
    """
    lines = [f"[{SECTION}.{_render_key(name)}]"]
    lines.extend(f"{_render_key(key)} = {render_value(value)}" for key, value in entry.items())
    return newline.join(lines) + newline


# ----------------------------------------------------------------------------- scanning


@dataclass
class _Statement:
    """Whole lines of the document: ``text[start:end]`` (``end`` is after the line ending)."""

    kind: str  # blank | comment | table | array | keyval
    start: int
    end: int
    line: int  # 1-based line of ``start``
    path: Tuple[str, ...] = ()  # table: its path; keyval: table path + dotted key
    key: Tuple[str, ...] = ()  # keyval: the dotted key as written (relative to its table)
    indent: str = ""


class _Unsupported(Exception):
    pass


class _Scanner:
    """Finds statement boundaries and key paths; ``tomllib`` has already validated the text."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)

    def fail(self, i: int, what: str) -> _Unsupported:
        return _Unsupported(f"{what} at line {self.s.count(chr(10), 0, i) + 1}")

    def ws(self, i: int) -> int:
        while i < self.n and self.s[i] in " \t":
            i += 1
        return i

    def ws_lines(self, i: int) -> int:
        """Skip whitespace, newlines and comments (inside arrays and inline tables)."""
        while i < self.n:
            c = self.s[i]
            if c in " \t\r\n":
                i += 1
            elif c == "#":
                i = self.line_end(i)
            else:
                break
        return i

    def line_end(self, i: int) -> int:
        """The index of the newline ending the line containing ``i`` (or the end)."""
        j = self.s.find("\n", i)
        return self.n if j < 0 else j

    def after_eol(self, i: int) -> int:
        """Past an optional comment and the line ending; anything else is an error."""
        i = self.ws(i)
        if i < self.n and self.s[i] == "#":
            i = self.line_end(i)
        if self.s.startswith("\r\n", i):
            return i + 2
        if i < self.n and self.s[i] == "\n":
            return i + 1
        if i >= self.n:
            return i
        raise self.fail(i, "unexpected text")

    def simple_key(self, i: int) -> Tuple[str, int]:
        s = self.s
        if i < self.n and s[i] == '"':
            return self.basic_string(i)
        if i < self.n and s[i] == "'":
            j = s.find("'", i + 1)
            if j < 0:
                raise self.fail(i, "unterminated key")
            return s[i + 1 : j], j + 1
        match = _BARE_KEY.match(s, i)
        if match is None:
            raise self.fail(i, "expected a key")
        return match.group(), match.end()

    def key(self, i: int) -> Tuple[Tuple[str, ...], int]:
        parts = []
        while True:
            part, i = self.simple_key(self.ws(i))
            parts.append(part)
            j = self.ws(i)
            if j < self.n and self.s[j] == ".":
                i = j + 1
                continue
            return tuple(parts), i

    def basic_string(self, i: int) -> Tuple[str, int]:
        """Decode a one-line ``"..."`` string starting at ``i``."""
        s = self.s
        out: List[str] = []
        j = i + 1
        while j < self.n:
            c = s[j]
            if c == '"':
                return "".join(out), j + 1
            if c == "\\":
                code = s[j + 1 : j + 2]
                if code in _UNESCAPES:
                    out.append(_UNESCAPES[code])
                    j += 2
                elif code in ("u", "U"):
                    width = 4 if code == "u" else 8
                    out.append(chr(int(s[j + 2 : j + 2 + width], 16)))
                    j += 2 + width
                elif code == "x":
                    out.append(chr(int(s[j + 2 : j + 4], 16)))
                    j += 4
                else:
                    raise self.fail(j, "unknown escape")
                continue
            if c == "\n":
                break
            out.append(c)
            j += 1
        raise self.fail(i, "unterminated string")

    def value(self, i: int) -> int:
        """The index just after the value starting at ``i``."""
        s = self.s
        if s.startswith('"""', i) or s.startswith("'''", i):
            quote = s[i]
            j = i + 3
            while j < self.n:
                if quote == '"' and s[j] == "\\":
                    j += 2
                    continue
                if s.startswith(quote * 3, j):
                    k = j + 3
                    # Up to two quotes may sit right before the closing delimiter.
                    while k < self.n and s[k] == quote and k - j < 5:
                        k += 1
                    return k
                j += 1
            raise self.fail(i, "unterminated multi-line string")
        c = s[i : i + 1]
        if c == '"':
            return self.basic_string(i)[1]
        if c == "'":
            j = s.find("'", i + 1)
            if j < 0 or "\n" in s[i:j]:
                raise self.fail(i, "unterminated string")
            return j + 1
        if c == "[":
            j = self.ws_lines(i + 1)
            while j < self.n and s[j] != "]":
                j = self.ws_lines(self.value(j))
                if j < self.n and s[j] == ",":
                    j = self.ws_lines(j + 1)
                elif j < self.n and s[j] != "]":
                    raise self.fail(j, "expected ',' or ']'")
            if j >= self.n:
                raise self.fail(i, "unterminated array")
            return j + 1
        if c == "{":
            j = self.ws_lines(i + 1)
            while j < self.n and s[j] != "}":
                _, j = self.key(j)
                j = self.ws(j)
                if s[j : j + 1] != "=":
                    raise self.fail(j, "expected '='")
                j = self.ws_lines(self.value(self.ws(j + 1)))
                if j < self.n and s[j] == ",":
                    j = self.ws_lines(j + 1)
                elif j < self.n and s[j] != "}":
                    raise self.fail(j, "expected ',' or '}'")
            if j >= self.n:
                raise self.fail(i, "unterminated inline table")
            return j + 1
        # Numbers, booleans, dates and times (a local date-time may contain a space).
        j = i
        while j < self.n and s[j] not in ",]}#\n":
            j += 1
        while j > i and s[j - 1] in " \t\r":
            j -= 1
        if j == i:
            raise self.fail(i, "expected a value")
        return j

    def statements(self) -> List[_Statement]:
        result: List[_Statement] = []
        table: Tuple[str, ...] = ()
        i = 0
        line = 1
        s = self.s
        while i < self.n:
            start = i
            j = self.ws(i)
            indent = s[start:j]
            c = s[j : j + 1]
            if c in ("\n", "") or s.startswith("\r\n", j):
                end = self.after_eol(j)
                statement = _Statement("blank", start, end, line)
            elif c == "#":
                end = self.after_eol(j)
                statement = _Statement("comment", start, end, line)
            elif c == "[":
                array = s.startswith("[[", j)
                path, k = self.key(j + (2 if array else 1))
                k = self.ws(k)
                close = "]]" if array else "]"
                if not s.startswith(close, k):
                    raise self.fail(k, "expected ']'")
                end = self.after_eol(k + len(close))
                table = path
                statement = _Statement("array" if array else "table", start, end, line, path=path, indent=indent)
            else:
                key, k = self.key(j)
                k = self.ws(k)
                if s[k : k + 1] != "=":
                    raise self.fail(k, "expected '='")
                k = self.value(self.ws(k + 1))
                end = self.after_eol(k)
                statement = _Statement("keyval", start, end, line, path=table + key, key=key, indent=indent)
            result.append(statement)
            line += s.count("\n", start, end)
            i = end
        return result


# ----------------------------------------------------------------------------- editing


@dataclass
class _Region:
    """Text a server owns: ``[lead, end)``; ``body`` is where its own text starts (after comments)."""

    lead: int
    body: int
    end: int
    header: bool  # a table header with its body, or a lone key/value
    statement: _Statement


def _regions(statements: Sequence[_Statement], section: str, name: str) -> List[_Region]:
    headers = [k for k, st in enumerate(statements) if st.kind in ("table", "array")]

    def lead_of(index: int) -> int:
        k = index
        while k > 0 and statements[k - 1].kind == "comment":
            k -= 1
        return k

    regions: List[_Region] = []
    owned_tables = set()
    for position, h in enumerate(headers):
        st = statements[h]
        if st.path[:2] != (section, name):
            continue
        owned_tables.add(h)
        stop = headers[position + 1] if position + 1 < len(headers) else len(statements)
        if stop < len(statements):
            stop = lead_of(stop)
        last = h
        for k in range(h + 1, stop):
            if statements[k].kind != "blank":
                last = k
        regions.append(_Region(statements[lead_of(h)].start, st.start, statements[last].end, True, st))
    current: Optional[int] = None
    for k, st in enumerate(statements):
        if st.kind in ("table", "array"):
            current = k
        elif st.kind == "keyval" and st.path[:2] == (section, name) and current not in owned_tables:
            regions.append(_Region(statements[lead_of(k)].start, st.start, st.end, False, st))
    regions.sort(key=lambda region: region.lead)
    return regions


def _line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def _blank_before(text: str, start: int) -> Optional[int]:
    """The start of the blank line right before ``start`` (a line start), if that line is blank."""
    if start == 0:
        return None
    previous = _line_start(text, start - 1)
    return previous if text[previous:start].strip(" \t\r\n") == "" else None


def _blank_after(text: str, end: int) -> Optional[int]:
    """The end of the blank line starting at ``end``, if it is blank."""
    if end >= len(text):
        return None
    stop = text.find("\n", end)
    stop = len(text) if stop < 0 else stop + 1
    return stop if text[end:stop].strip(" \t\r\n") == "" else None


def _deletion(text: str, region: _Region) -> Tuple[int, int]:
    """The span to delete for a region: its comments, its text, and one separating blank line."""
    start, end = region.lead, region.end
    if region.header:
        # A table between blank lines (or last in the file) leaves one blank line, not two; one
        # followed directly by other text keeps the blank line that separates that text.
        before = _blank_before(text, start)
        after = _blank_after(text, end)
        if before is not None and (after is not None or end >= len(text)):
            start = before
        elif start == 0 and after is not None:
            end = after
    return start, end


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text and text.count("\r\n") * 2 >= text.count("\n") else "\n"


def _splice(text: str, edits: List[Tuple[int, int, str]]) -> str:
    """Apply non-overlapping ``(start, end, replacement)`` edits; overlapping deletions are merged."""
    edits = sorted(edits)
    merged: List[Tuple[int, int, str]] = []
    for start, end, replacement in edits:
        if merged and start < merged[-1][1]:
            previous = merged[-1]
            if replacement or previous[2]:
                raise TomlEditError("internal error: overlapping edits")
            merged[-1] = (previous[0], max(previous[1], end), "")
            continue
        merged.append((start, end, replacement))
    for start, end, replacement in reversed(merged):
        text = text[:start] + replacement + text[end:]
    return text


def _expected(old: Mapping[str, Any], section: str, name: str, entry: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    document = copy.deepcopy(dict(old))
    servers = document.get(section)
    if entry is None:
        if isinstance(servers, dict):
            servers.pop(name, None)
        return document
    if not isinstance(servers, dict):
        servers = document[section] = {}
    servers[name] = copy.deepcopy(dict(entry))
    return document


def _same(a: Any, b: Any) -> bool:
    """Equality of parsed documents, where ``nan`` equals ``nan`` (a file may hold one)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and bool(a == b)


def _without_empty(document: Dict[str, Any], section: str) -> Dict[str, Any]:
    """Removing the last server may leave an empty ``[mcp_servers]`` table or none: the same thing."""
    if document.get(section) == {}:
        document = {key: value for key, value in document.items() if key != section}
    return document


def edit_server(text: str, name: str, entry: Optional[Mapping[str, Any]], *, section: str = SECTION) -> str:
    r"""Return ``text`` with server ``name`` set to ``entry`` (added or replaced), or removed (``None``).

    Args:
        text: the whole TOML document (without a byte-order mark).
        name: the server's name (any string; normally ``^[a-zA-Z0-9_-]+$``).
        entry: the server's table, e.g. ``{"command": "npx", "args": ["-y", "pkg"]}``; ``None``
            removes the server (a server that is not there leaves the text unchanged).
        section: the top-level table of servers.

    Raises:
        TomlEditError: the text is not valid TOML, holds the servers in a form this editor does
            not rewrite, or the edit would not give exactly the requested document.

    Example:
        >>> edit_server('[mcp_servers.a]\ncommand = "x"\n', "a", None)
        ''
    """
    old = parse_toml(text)
    try:
        statements = _Scanner(text).statements()
    except _Unsupported as exc:
        raise TomlEditError(f"cannot edit this file safely: unsupported TOML construct {exc}") from None
    for st in statements:
        if st.kind == "keyval" and len(st.path) < 2 and st.path[:1] == (section,):
            raise TomlEditError(
                f"{section} is written as an inline table (line {st.line}); "
                f"write each server as a [{section}.NAME] table to edit it with syncmcp"
            )
    regions = _regions(statements, section, name)
    newline = _newline_of(text)
    edits: List[Tuple[int, int, str]] = []
    if entry is None:
        edits.extend((*_deletion(text, region), "") for region in regions)
    elif regions:
        anchor, rest = regions[0], regions[1:]
        if anchor.header:
            # The comments above the table stay; so do the blank lines after its last line.
            replacement = render_server_table(name, entry, newline)
            if anchor.end == len(text) and not text.endswith("\n"):
                replacement = replacement[: -len(newline)]  # the file had no final line ending
            edits.append((anchor.body, anchor.end, replacement))
        else:
            st = anchor.statement
            depth = 2 - (len(st.path) - len(st.key))  # how many of the key's parts lead to the server
            key = ".".join(_render_key(part) for part in st.key[:depth])
            line_ending = text[st.start : st.end][len(text[st.start : st.end].rstrip("\r\n")) :]
            edits.append((st.start, st.end, f"{st.indent}{key} = {render_value(entry)}{line_ending}"))
        edits.extend((*_deletion(text, region), "") for region in rest)
    else:
        table = render_server_table(name, entry, newline)
        tables = [
            region
            for other in statements
            if other.kind == "table" and other.path[:1] == (section,) and len(other.path) >= 2
            for region in _regions(statements, section, other.path[1])
            if region.header
        ]
        if tables:
            position = max(region.end for region in tables)
            prefix = newline if position == len(text) and not text.endswith("\n") else ""
            edits.append((position, position, prefix + newline + table))
        else:
            prefix = newline if text and not text.endswith("\n") else ""
            if text.strip():
                prefix += newline
            edits.append((len(text), len(text), prefix + table))
    result = _splice(text, edits)
    if not _same(_without_empty(parse_toml(result), section), _without_empty(_expected(old, section, name, entry), section)):
        raise TomlEditError(
            "cannot edit this file safely: the change would alter other settings (please report this, with the file)"
        )
    return result
