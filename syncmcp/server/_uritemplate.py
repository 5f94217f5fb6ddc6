"""RFC 6570 URI templates, in the reverse direction: which variables produce a given URI.

Supported expressions: ``{var}`` (one segment, percent-decoded), ``{+var}`` (may contain
slashes), ``{#var}`` (a fragment), ``{/var}`` and ``{/var*}`` (path segments; the exploded form
gives a list), ``{.var}`` (a dot-prefixed label), ``{?a,b}`` and ``{&c}`` (query parameters,
each optional). Several comma-separated variables may share an expression (``{x,y}``). A prefix
modifier (``{var:3}``) is accepted and ignored.

Example:
    >>> template = URITemplate("notes://{folder}/{+path}{?rev}")
    >>> template.variables
    ('folder', 'path', 'rev')
    >>> template.match("notes://work/2026/plan.md?rev=3")
    {'folder': 'work', 'path': '2026/plan.md', 'rev': '3'}
    >>> template.match("other://x") is None
    True
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, unquote

__all__ = ["URITemplate"]

_EXPRESSION = re.compile(r"\{([^{}]*)\}")
_VARNAME = re.compile(r"^[A-Za-z0-9_.%]+$")


class URITemplate:
    """A compiled URI template that matches URIs and extracts the variables.

    Args:
        template: the RFC 6570 template text.

    Raises:
        ValueError: the template is malformed or repeats a variable.

    Example:
        >>> URITemplate("file://{+path}").match("file:///tmp/a%20b.txt")
        {'path': '/tmp/a b.txt'}
    """

    def __init__(self, template: str) -> None:
        self.template = template
        names: List[str] = []
        self._exploded: Dict[str, str] = {}  # name -> separator used to split a list value
        self._query: List[str] = []
        pattern = ["^"]
        position = 0
        groups: Dict[str, str] = {}
        query_started = False
        for found in _EXPRESSION.finditer(template):
            literal = template[position : found.start()]
            if "{" in literal or "}" in literal:
                raise ValueError(f"malformed URI template {template!r}: unbalanced braces")
            pattern.append(re.escape(literal))
            position = found.end()
            body = found.group(1)
            operator = body[:1] if body[:1] in "+#/.;?&" else ""
            variables = [v.strip() for v in body[len(operator) :].split(",")]
            if not variables or not all(variables):
                raise ValueError(f"malformed URI template {template!r}: empty expression {{{body}}}")
            for raw in variables:
                name, explode = _parse_varspec(raw, template)
                if name in names:
                    raise ValueError(f"URI template {template!r} uses the variable {name!r} twice")
                names.append(name)
                group = f"v{len(groups)}"
                groups[group] = name
                if operator in ("?", "&"):
                    self._query.append(name)
                    continue
                if explode:
                    self._exploded[name] = {"/": "/", ".": "."}.get(operator, ",")
                pattern.append(_fragment(operator, group, explode, first=raw is variables[0]))
            if operator in ("?", "&") and not query_started:
                query_started = True
                pattern.append(r"(?:[?&](?P<query>[^#]*))?")
        tail = template[position:]
        if "{" in tail or "}" in tail:
            raise ValueError(f"malformed URI template {template!r}: unbalanced braces")
        pattern.append(re.escape(tail))
        pattern.append("$")
        self._groups = groups
        self._regex = re.compile("".join(pattern), re.DOTALL)
        #: The template's variable names, in order of appearance.
        self.variables: Tuple[str, ...] = tuple(names)

    def __repr__(self) -> str:
        return f"URITemplate({self.template!r})"

    def match(self, uri: str) -> Optional[Dict[str, Any]]:
        """The variables that expand to ``uri``, or ``None`` if it does not fit the template.

        Query variables absent from the URI are absent from the result; exploded variables
        (``{/segments*}``) are lists of strings.

        Example:
            >>> URITemplate("repo://{owner}{/path*}").match("repo://me/src/app.py")
            {'owner': 'me', 'path': ['src', 'app.py']}
        """
        found = self._regex.match(uri)
        if found is None:
            return None
        values: Dict[str, Any] = {}
        for group, name in self._groups.items():
            if name in self._query:
                continue
            raw = found.group(group)
            if raw is None:
                continue
            if name in self._exploded:
                separator = self._exploded[name]
                values[name] = [unquote(part) for part in raw.split(separator) if part]
            else:
                values[name] = unquote(raw)
        if self._query:
            query = found.group("query") or ""
            pairs = parse_qsl(query, keep_blank_values=True)
            for key, value in pairs:
                if key in self._query and key not in values:
                    values[key] = value
        return values


def _parse_varspec(raw: str, template: str) -> Tuple[str, bool]:
    explode = raw.endswith("*")
    name = raw[:-1] if explode else raw
    name = name.split(":", 1)[0]  # prefix modifier: matched like the full value
    if not _VARNAME.match(name):
        raise ValueError(f"malformed URI template {template!r}: bad variable name {raw!r}")
    return name, explode


def _fragment(operator: str, group: str, explode: bool, *, first: bool) -> str:
    """The regex for one variable of an expression."""
    if operator == "":
        value = r"[^/?#&,]+" if not explode else r"[^/?#&]+"
        return ("" if first else ",") + f"(?P<{group}>{value})"
    if operator == "+":
        return f"(?P<{group}>[^?#]+)" if first else f",(?P<{group}>[^?#]+?)"
    if operator == "#":
        return ("#" if first else ",") + f"(?P<{group}>.+)"
    if operator == "/":
        if explode:
            return rf"(?P<{group}>(?:/[^/?#]+)*)"
        return rf"/(?P<{group}>[^/?#]+)"
    if operator == ".":
        if explode:
            return rf"(?P<{group}>(?:\.[^/?#.]+)*)"
        return rf"\.(?P<{group}>[^/?#.]+)"
    # ";" path parameters: name=value
    return rf";[^=;/?#]+=(?P<{group}>[^;/?#]*)"
