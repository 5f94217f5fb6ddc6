"""The ``Mcp-Param-*`` headers of a 2026-07-28 server's tools, as one HTTP connection learns them.

In the 2026-07-28 revision a tool input property annotated ``"x-mcp-header"`` travels twice in a
``tools/call``: in the arguments and in an ``Mcp-Param-<Name>`` header. :class:`ToolHeaders`
reads the annotations of every tool in the server's listings (leaving out the tools whose
annotations are invalid, as the revision requires), adds the headers to each call, and, when the
server answers a call with a header mismatch (-32020), lists the tools again with requests of
its own so that the retry carries the right headers. The rules themselves are
:mod:`syncmcp._mcpheaders`.

Example::

    tools = ToolHeaders("remote", post_own=post_own, reader=reader)
    listing["tools"] = tools.usable(listing["tools"])
    tools.add_headers(headers, call)
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Dict, List, Mapping, Optional

from ._httpexchange import ErrorBody, ResponseReader
from ._httpwire import Headers, HttpResponse
from ._jsonrpc import encode_message, make_request
from ._mcpheaders import HeaderSpec, InvalidHeaderAnnotation, param_header_specs, param_headers

__all__ = ["ToolHeaders"]

logger = logging.getLogger("syncmcp.http")

#: Most pages of the transport's own ``tools/list`` (after a header mismatch).
_MAX_RELIST_PAGES = 100


class ToolHeaders:
    """Tool name → its ``Mcp-Param-*`` header specs, for one 2026-07-28 connection.

    Safe to share between threads: the table only gains or replaces entries, one at a time.

    Args:
        name: the server's name, for logs.
        post_own: ``post_own(method, body, message)``: ``POST`` a request of the transport's own
            (a ``tools/list``) with the headers mirroring ``message``; returns its response.
        reader: reads the answers of those requests.
    """

    def __init__(
        self,
        name: str,
        *,
        post_own: Callable[[str, bytes, Mapping[str, Any]], HttpResponse],
        reader: ResponseReader,
    ) -> None:
        self.name = name
        self._post_own = post_own
        self._reader = reader
        self._param_specs: Dict[str, List[HeaderSpec]] = {}
        self._ids = itertools.count(1)

    def add_headers(self, headers: Headers, call: Mapping[str, Any]) -> None:
        """Add the ``Mcp-Param-*`` headers of a ``tools/call`` message (none for an unknown tool)."""
        params = call.get("params") or {}
        tool = params.get("name") if isinstance(params, Mapping) else None
        specs = self._param_specs.get(tool) if isinstance(tool, str) else None
        if specs:
            arguments = params.get("arguments")
            for name, value in param_headers(specs, arguments if isinstance(arguments, Mapping) else None):
                headers.add(name, value)

    def usable(self, tools: List[Any]) -> List[Any]:
        """Record each tool's ``Mcp-Param-*`` headers; leave out tools whose annotations are invalid."""
        kept = []
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                kept.append(tool)
                continue
            try:
                specs = param_header_specs(tool.get("inputSchema"))
            except InvalidHeaderAnnotation as exc:
                logger.warning("MCP server '%s': tool '%s' left out: %s", self.name, tool["name"], exc)
                continue
            self._param_specs[tool["name"]] = specs
            kept.append(tool)
        return kept

    def relist(self, call: Mapping[str, Any]) -> None:
        """After a header mismatch: list the tools again (own requests), to learn their headers.

        The listing carries the envelope of ``call`` (its progress token left out). A refused
        listing ends the re-listing quietly: the retried call then fails on its own terms.

        Raises:
            HTTPError: an answer to a listing could not be read.
        """
        params = call.get("params")
        meta = params.get("_meta") if isinstance(params, Mapping) else None
        cursor: Optional[str] = None
        for page in range(_MAX_RELIST_PAGES):
            list_params: Dict[str, Any] = {"_meta": dict(meta or {})}
            list_params["_meta"].pop("progressToken", None)
            if cursor is not None:
                list_params["cursor"] = cursor
            request_id = f"syncmcp-relist-{page}-{next(self._ids)}"
            listing = make_request(request_id, "tools/list", list_params)
            body = encode_message(listing)[:-1]
            response = self._post_own("tools/list", body, listing)
            if not 200 <= response.status < 300:
                ErrorBody(response)
                return
            result = self._reader.own_result(response, request_id)
            if not isinstance(result, dict):
                return
            tools = result.get("tools")
            if isinstance(tools, list):
                self.usable(tools)
            cursor = result.get("nextCursor") if isinstance(result.get("nextCursor"), str) else None
            if cursor is None:
                return
