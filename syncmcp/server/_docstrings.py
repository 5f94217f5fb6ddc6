"""Docstring parsing: a summary for the description, and one line of text per parameter.

Google style (``Args:`` / ``Arguments:`` / ``Parameters:`` / ``Attributes:`` sections, entries
``name: text`` or ``name (type): text`` with indented continuation lines) and Sphinx style
(``:param name: text``). Other sections (``Returns:``, ``Raises:``, ``Example:`` ...) end the
description and are otherwise ignored.

Example:
    >>> doc = '''Add two numbers.
    ...
    ... Args:
    ...     a: the first.
    ...     b (int): the second,
    ...         on two lines.
    ... Returns:
    ...     The sum.
    ... '''
    >>> parsed = parse_docstring(doc)
    >>> parsed.description, parsed.params["b"]
    ('Add two numbers.', 'the second, on two lines.')
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

__all__ = ["Docstring", "parse_docstring"]

#: Section headers whose entries describe parameters (or dataclass fields).
_PARAM_SECTIONS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "attributes", "fields"}
)
#: Every other header that starts a section (and so ends the description).
_OTHER_SECTIONS = frozenset(
    {
        "returns",
        "return",
        "yields",
        "yield",
        "raises",
        "raise",
        "example",
        "examples",
        "note",
        "notes",
        "warning",
        "warnings",
        "see also",
        "todo",
        "references",
    }
)
_HEADER = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
_ENTRY = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$")
_SPHINX_OTHER = re.compile(r"^:(?:returns?|rtype|raises?|type)\b")


@dataclass(frozen=True)
class Docstring:
    """A parsed docstring.

    Attributes:
        description: the text before the first section, paragraphs kept.
        params: parameter name -> its description, continuation lines joined with spaces.

    Example:
        >>> Docstring("Do it.", {}).description
        'Do it.'
    """

    description: str = ""
    params: Dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: Optional[str]) -> Docstring:
    """Split a docstring into its description and per-parameter texts (see the module docs).

    Example:
        >>> parse_docstring(":param x: the value").params
        {'x': 'the value'}
    """
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    description: List[str] = []
    params: Dict[str, str] = {}
    section: Optional[str] = None  # None: still in the description
    current: Optional[str] = None  # parameter whose text continues on indented lines
    entry_indent = -1
    for raw in lines:
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        header = _HEADER.match(raw)
        if header and indent == 0 and header.group(1).lower() in (_PARAM_SECTIONS | _OTHER_SECTIONS):
            section = header.group(1).lower()
            current, entry_indent = None, -1
            continue
        sphinx = _SPHINX_PARAM.match(stripped)
        if sphinx:
            section, current = "sphinx", sphinx.group(1)
            params[current] = sphinx.group(2).strip()
            entry_indent = indent
            continue
        if _SPHINX_OTHER.match(stripped):
            section, current = "sphinx-other", None
            continue
        if section is None:
            description.append(raw)
            continue
        if section in _PARAM_SECTIONS:
            entry = _ENTRY.match(stripped)
            if entry and (entry_indent < 0 or indent <= entry_indent):
                current, entry_indent = entry.group(1), indent
                params[current] = entry.group(2).strip()
                continue
            if indent == 0 and stripped:
                # Unindented text after a section: back to free text we do not use.
                section, current = "other", None
                continue
        if current is not None and stripped and (section in _PARAM_SECTIONS or section == "sphinx"):
            params[current] = f"{params[current]} {stripped}".strip()
        elif not stripped and section == "sphinx":
            current = None
    text = "\n".join(description).strip()
    return Docstring(text, params)
