r"""A small text-level TOML editor: add, replace or remove one ``[mcp_servers.NAME]`` entry.

The text is scanned into whole-line *statements* (blank lines, comments, table headers, key/value
pairs, the latter possibly spanning lines through multi-line strings and arrays). A server owns:

* its tables, ``[mcp_servers.NAME]`` and ``[mcp_servers.NAME.*]``, each with its body up to the
  comment lines directly above the next table (so a comment at the end of a body is the server's);
* its key/value pairs elsewhere (``NAME = {...}`` under ``[mcp_servers]``, dotted keys);
* the comment lines directly above each of those, except the file's header: comment lines with
  nothing but comments and blank lines above them are never a server's.

``mcp_servers`` is the default section; a file that holds its servers in ``[mcpServers.NAME]`` or
``[servers.NAME]`` is edited there (``section``). Nothing the edit does not concern changes: other
tables, keys, comments, blank lines, quoting and line endings (LF or CRLF) stay byte for byte.

* **add** puts the new table after the last ``[mcp_servers.*]`` table, or at the end of the file.
  At the end it follows one blank line (none in an empty file) and the file keeps its final line
  ending, or its lack of one. Elsewhere it follows a blank line when one comes next (that one then
  separates it from what follows); otherwise it comes directly after the table before it, with a
  blank line added between it and what follows.
* **replace** (``add`` of an existing name), when the server is one ``[mcp_servers.NAME]`` table
  with optional sub-tables, changes only the keys whose values change: an unchanged key keeps its
  text and comments, a changed key written on one line of the table gets its new value on that
  line, a key that goes away is deleted with the comment lines directly above it (or its
  sub-table), and a new key is written after the key before it in the new entry. A server written
  another way is written anew as one table where its first part was (the comments above it stay)
  and its other parts are removed; ``NAME = {...}`` under ``[mcp_servers]`` stays an inline table.
* **remove** deletes what the server owns and the blank line its table brought: between blank
  lines (or last), the one before; with a blank line after it and none before, that one; none
  when text follows directly. At the end of a file without a final line ending, the line ending
  before the deleted text goes too. So removing a server that ``add`` added gives back the
  original bytes.

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
        import tomllib  # novm (imported on Python 3.11+ only)
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


def render_server_table(name: str, entry: Mapping[str, Any], newline: str = "\n", *, section: str = SECTION) -> str:
    """The ``[mcp_servers.NAME]`` table for one server (``section`` names another), keys in the order given.

    Example:
        >>> print(render_server_table("fs", {"command": "npx", "env": {"K": "v"}}), end="")
        [mcp_servers.fs]
        command = "npx"
        env = { K = "v" }
    """
    lines = [f"[{_render_key(section)}.{_render_key(name)}]"]
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


def _is_header(statement: _Statement) -> bool:
    return statement.kind in ("table", "array")


def _lead_of(statements: Sequence[_Statement], index: int) -> int:
    """The first of the comment lines directly above statement ``index`` (``index`` if none).

    Comment lines with nothing but comments and blank lines above them are the file's header,
    not the statement's: they are never part of what an edit removes.
    """
    k = index
    while k > 0 and statements[k - 1].kind == "comment":
        k -= 1
    if k < index and all(statement.kind in ("blank", "comment") for statement in statements[:k]):
        return index
    return k


def _regions(statements: Sequence[_Statement], section: str, name: str) -> List[_Region]:
    """The server's tables (``[section.name]`` and ``[section.name.*]``) and its other key/values."""
    headers = [k for k, st in enumerate(statements) if _is_header(st)]
    regions: List[_Region] = []
    owned_tables = set()
    for position, h in enumerate(headers):
        st = statements[h]
        if st.path[:2] != (section, name):
            continue
        owned_tables.add(h)
        stop = headers[position + 1] if position + 1 < len(headers) else len(statements)
        if stop < len(statements):
            stop = _lead_of(statements, stop)
        last = h
        for k in range(h + 1, stop):
            if statements[k].kind != "blank":
                last = k
        regions.append(_Region(statements[_lead_of(statements, h)].start, st.start, statements[last].end, True, st))
    current: Optional[int] = None
    for k, st in enumerate(statements):
        if _is_header(st):
            current = k
        elif st.kind == "keyval" and st.path[:2] == (section, name) and current not in owned_tables:
            regions.append(_Region(statements[_lead_of(statements, k)].start, st.start, st.end, False, st))
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
    """The span to delete for a region: its comments, its text, and the blank line it brought.

    The rules undo what :func:`_insertion` does, so that adding a server and removing it gives
    back the original bytes: a table between blank lines (or last in the file) takes the blank
    line before it; a table with a blank line after it and none before (first in the file, or
    right after other text) takes the blank line after it; a table with text directly after it
    takes no blank line. (A file without a final line ending keeps that: :func:`edit_server` sees
    to it for every edit.)
    """
    start, end = region.lead, region.end
    if region.header:
        before = _blank_before(text, start)
        after = _blank_after(text, end)
        if before is not None and (after is not None or end >= len(text)):
            start = before
        elif before is None and after is not None:
            end = after
    return start, end


def _insertion(text: str, position: int, table: str, newline: str) -> Tuple[int, int, str]:
    """Insert ``table`` (ending with ``newline``) at ``position``, a line start or the end.

    At the end of the text the table follows one blank line (none in an empty file) and keeps
    the file's final line ending, or its lack of one. Elsewhere it follows the text before it:
    after a blank line when one comes next (that blank line then separates it from what
    follows), else directly, with a blank line added between it and what follows.
    """
    if position >= len(text):
        if not text:
            return position, position, table
        if text.endswith("\n"):
            return position, position, newline + table
        return position, position, newline + newline + table[: -len(newline)]
    if _blank_after(text, position) is not None:
        return position, position, newline + table
    return position, position, table + newline


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


def _key_edits(
    text: str,
    statements: Sequence[_Statement],
    regions: Sequence[_Region],
    old: Mapping[str, Any],
    entry: Mapping[str, Any],
    newline: str,
) -> Optional[List[Tuple[int, int, str]]]:
    """Edits that touch only the keys whose values change, when the server is one table.

    The server must be written as its own ``[section.NAME]`` table (with any ``[section.NAME.*]``
    sub-tables); otherwise ``None``. A key with the same value keeps its text and comments. A key
    written as one ``key = value`` line of the table gets its new value on that line (the
    comments above it stay); a key that goes away is deleted with the comment lines directly
    above it (and its sub-tables); a new key, or one written in several statements, is written as
    one line after the key before it in ``entry`` (or right after the header).
    """
    mains = [
        region for region in regions if region.header and region.statement.kind == "table" and len(region.statement.path) == 2
    ]
    if len(mains) != 1 or any(not region.header for region in regions):
        return None
    main = mains[0].statement
    main_index = next(k for k, st in enumerate(statements) if st is main)
    body: Dict[str, List[int]] = {}  # key -> its statements in the table's body
    for k in range(main_index + 1, len(statements)):
        st = statements[k]
        if _is_header(st):
            break
        if st.kind == "keyval":
            body.setdefault(st.path[2], []).append(k)
    elsewhere = set()  # keys that (also) live in sub-tables
    edits: List[Tuple[int, int, str]] = []
    for region in regions:
        st = region.statement
        if st is main:
            continue
        if len(st.path) < 3:  # [[section.NAME]]: not a shape to rewrite key by key
            return None
        elsewhere.add(st.path[2])
        if st.path[2] not in entry or not _same(old.get(st.path[2]), entry[st.path[2]]):
            edits.append((*_deletion(text, region), ""))

    def line(key: str, indent: str = "", ending: str = newline) -> str:
        return f"{indent}{_render_key(key)} = {render_value(entry[key])}{ending}"

    for key, indexes in body.items():
        if key not in entry:
            for k in indexes:
                edits.append((statements[_lead_of(statements, k)].start, statements[k].end, ""))
    inserts: Dict[int, str] = {}
    point = main.end
    for key in entry:
        indexes = body.get(key, [])
        same = key in old and _same(old[key], entry[key])
        if same:
            if indexes:
                point = statements[indexes[-1]].end
            continue
        if len(indexes) == 1 and key not in elsewhere:
            st = statements[indexes[0]]
            own = text[st.start : st.end]
            edits.append((st.start, st.end, line(key, st.indent, own[len(own.rstrip("\r\n")) :])))
            point = st.end
            continue
        for k in indexes:
            edits.append((statements[_lead_of(statements, k)].start, statements[k].end, ""))
        inserts[point] = inserts.get(point, "") + line(key)
    for position, written in inserts.items():
        at_end = position >= len(text) and not text.endswith("\n")  # keep the file's lack of a final line ending
        edits.append((position, position, newline + written[: -len(newline)] if at_end else written))
    return edits


def _whole_edits(
    text: str, regions: Sequence[_Region], section: str, name: str, entry: Mapping[str, Any], newline: str
) -> List[Tuple[int, int, str]]:
    """Edits that write the server anew where its first table (or key) was, removing the rest."""
    anchor, rest = regions[0], regions[1:]
    edits: List[Tuple[int, int, str]] = []
    if anchor.header:
        # The comments above the table stay; so do the blank lines after its last line.
        replacement = render_server_table(name, entry, newline, section=section)
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
    return edits


def _add_edit(
    text: str, statements: Sequence[_Statement], section: str, name: str, entry: Mapping[str, Any], newline: str
) -> Tuple[int, int, str]:
    """Where a new server goes: after the last ``[section.*]`` table, else at the end."""
    table = render_server_table(name, entry, newline, section=section)
    ends = [
        region.end
        for other in statements
        if other.kind == "table" and other.path[:1] == (section,) and len(other.path) >= 2
        for region in _regions(statements, section, other.path[1])
        if region.header
    ]
    return _insertion(text, max(ends) if ends else len(text), table, newline)


def edit_server(text: str, name: str, entry: Optional[Mapping[str, Any]], *, section: str = SECTION) -> str:
    r"""Return ``text`` with server ``name`` set to ``entry`` (added or replaced), or removed (``None``).

    Args:
        text: the whole TOML document (without a byte-order mark).
        name: the server's name (any string; normally ``^[a-zA-Z0-9_-]+$``).
        entry: the server's table, e.g. ``{"command": "npx", "args": ["-y", "pkg"]}``; ``None``
            removes the server (a server that is not there leaves the text unchanged).
        section: the top-level table of servers (``mcp_servers``; a file may use ``mcpServers``
            or ``servers``).

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
    expected = _without_empty(_expected(old, section, name, entry), section)
    attempts: List[List[Tuple[int, int, str]]] = []
    if entry is None:
        attempts.append([(*_deletion(text, region), "") for region in regions])
    elif regions:
        servers = old.get(section)
        current = servers.get(name) if isinstance(servers, dict) else None
        if isinstance(current, dict):
            precise = _key_edits(text, statements, regions, current, entry, newline)
            if precise is not None:
                attempts.append(precise)
        attempts.append(_whole_edits(text, regions, section, name, entry, newline))
    else:
        attempts.append([_add_edit(text, statements, section, name, entry, newline)])
    for edits in attempts:
        try:
            result = _splice(text, edits)
            if text and not text.endswith("\n") and result.endswith("\n"):  # the file had no final line ending: still none
                result = result[: -2 if result.endswith("\r\n") else -1]
            if _same(_without_empty(parse_toml(result), section), expected):
                return result
        except TomlEditError:
            continue
    raise TomlEditError("cannot edit this file safely: the change would alter other settings (please report this, with the file)")
