"""The client's side of server requests: roots, sampling and elicitation.

Servers ask the client for its roots (``roots/list``), for a model completion
(``sampling/createMessage``) and for user input (``elicitation/create``): as standalone requests
in the legacy era, inside an ``InputRequiredResult`` in the 2026-07-28 era. :class:`ClientFeatures`
holds the user's answers (plain synchronous callables) and checks both directions: what the server
may ask (only what the client declared) and what the client sends back (roots are ``file://``
URIs, an accepted form matches its schema with defaults filled in).

Example:
    >>> features = ClientFeatures(roots=["/srv/data"])
    >>> features.capabilities()
    {'roots': {'listChanged': True}}
    >>> features.list_roots()["roots"][0]["uri"]
    'file:///srv/data'
"""

from __future__ import annotations

import logging
import os
import pathlib
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ._exceptions import JSONRPCError, SchemaValidationError
from ._jsonrpc import ErrorCode
from ._validation import SchemaValidators, apply_defaults, describe_errors, first_error_path

__all__ = [
    "ELICITATION_MODES",
    "ClientFeatures",
    "check_elicitation_answer",
    "normalize_roots",
]

logger = logging.getLogger("syncmcp.session")

#: The elicitation modes a handler may declare (2025-11-25).
ELICITATION_MODES: Tuple[str, ...] = ("form", "url")

RootLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]
Roots = Union[Sequence[RootLike], Callable[[], Sequence[RootLike]]]
Handler = Callable[[Any, Dict[str, Any]], Any]

_ELICITATION_ACTIONS = ("accept", "decline", "cancel")


def normalize_roots(roots: Iterable[RootLike]) -> List[Dict[str, Any]]:
    """Turn paths and root dicts into ``Root`` objects, insisting on ``file://`` URIs.

    A path (``str`` without a scheme, or ``os.PathLike``) becomes ``{"uri": "file://...",
    "name": <its last component>}``; a dict is kept (copied) if its ``uri`` is ``file://``.

    Raises:
        ValueError: a root is not a local path or a ``file://`` URI.

    Example:
        >>> normalize_roots([{"uri": "file:///tmp", "name": "tmp"}, "/var/log"])
        [{'uri': 'file:///tmp', 'name': 'tmp'}, {'uri': 'file:///var/log', 'name': 'log'}]
    """
    result: List[Dict[str, Any]] = []
    for root in roots:
        if isinstance(root, Mapping):
            uri = root.get("uri")
            if not isinstance(uri, str) or not uri.startswith("file://"):
                raise ValueError(f"root URIs must start with file://, got {uri!r}")
            result.append(dict(root))
            continue
        text = os.fspath(root)
        if "://" in text:
            if not text.startswith("file://"):
                raise ValueError(f"root URIs must start with file://, got {text!r}")
            result.append({"uri": text})
            continue
        path = pathlib.Path(text).expanduser()
        if not path.is_absolute():
            path = path.resolve()
        result.append({"uri": path.as_uri(), "name": path.name or str(path)})
    return result


def check_elicitation_answer(
    params: Mapping[str, Any],
    answer: Mapping[str, Any],
    validators: Optional[SchemaValidators] = None,
) -> Dict[str, Any]:
    """Check a handler's answer to ``elicitation/create`` and return what to send.

    The action must be accept, decline or cancel. For an accepted form, every missing field
    with a ``default`` is filled in and the content is validated against ``requestedSchema``;
    content is dropped for every other answer (the spec allows it only for an accepted form).

    Raises:
        SchemaValidationError: the answer is malformed or does not match the schema (the
            message names the field).

    Example:
        >>> schema = {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}}
        >>> check_elicitation_answer({"requestedSchema": schema}, {"action": "accept"})
        {'action': 'accept', 'content': {'n': 1}}
    """
    action = answer.get("action")
    if action not in _ELICITATION_ACTIONS:
        raise SchemaValidationError(f"an elicitation answer needs action accept, decline or cancel, got {action!r}")
    result = {key: value for key, value in answer.items() if key != "content"}
    if action != "accept" or params.get("mode", "form") != "form":
        return result
    schema = params.get("requestedSchema")
    schema = schema if isinstance(schema, Mapping) else {"type": "object"}
    content = answer.get("content")
    if content is not None and not isinstance(content, Mapping):
        raise SchemaValidationError(f"accepted elicitation content must be an object, got {type(content).__name__}")
    filled = apply_defaults(schema, content)
    validator = (validators or _FORM_VALIDATORS).get(schema)
    problem = describe_errors(validator, filled)
    if problem is not None:
        raise SchemaValidationError(
            f"the elicitation answer does not match the requested schema: {problem}",
            result=filled,
            path=first_error_path(validator, filled),
        )
    result["content"] = filled
    return result


_FORM_VALIDATORS = SchemaValidators(check_formats=True)


class ClientFeatures:
    """The user's handlers for server requests, and the capabilities they imply.

    Args:
        roots: a list of roots (paths or ``{"uri", "name"}`` dicts) or a callable returning one.
        sampling_handler: ``fn(ctx, params) -> CreateMessageResult``.
        sampling_tools: the handler supports ``tools`` / ``toolChoice`` (2025-11-25).
        elicitation_handler: ``fn(ctx, params) -> ElicitResult``.
        elicitation_modes: the modes the handler supports; default: the handler's own ``modes``
            attribute, else form only.
        on_elicitation_complete: ``fn(elicitation_id)`` when the server says a URL elicitation
            the handler accepted has completed.
    """

    def __init__(
        self,
        *,
        roots: Optional[Roots] = None,
        sampling_handler: Optional[Handler] = None,
        sampling_tools: bool = False,
        elicitation_handler: Optional[Handler] = None,
        elicitation_modes: Optional[Sequence[str]] = None,
        on_elicitation_complete: Optional[Callable[[str], None]] = None,
    ) -> None:
        if roots is not None and not callable(roots):
            roots = normalize_roots(roots)
        self._roots = roots
        self.sampling_handler = sampling_handler
        self.sampling_tools = sampling_tools
        self.elicitation_handler = elicitation_handler
        if elicitation_modes is None:
            elicitation_modes = getattr(elicitation_handler, "modes", ("form",))
        modes = tuple(elicitation_modes)
        unknown = [mode for mode in modes if mode not in ELICITATION_MODES]
        if unknown or not modes:
            raise ValueError(f"elicitation modes must be a non-empty subset of {ELICITATION_MODES}, got {modes!r}")
        self.elicitation_modes = modes
        self.on_elicitation_complete = on_elicitation_complete
        self._url_lock = threading.Lock()
        self._open_url_elicitations: Set[str] = set()

    @property
    def has_roots(self) -> bool:
        """Whether roots were configured (the ``roots`` capability)."""
        return self._roots is not None

    def set_roots(self, roots: Roots) -> None:
        """Replace the roots (validated now when given as a list)."""
        self._roots = roots if callable(roots) else normalize_roots(roots)

    def capabilities(self) -> Dict[str, Any]:
        """``ClientCapabilities`` for exactly the handlers given."""
        caps: Dict[str, Any] = {}
        if self._roots is not None:
            caps["roots"] = {"listChanged": True}
        if self.sampling_handler is not None:
            caps["sampling"] = {"tools": {}} if self.sampling_tools else {}
        if self.elicitation_handler is not None:
            caps["elicitation"] = {mode: {} for mode in self.elicitation_modes}
        return caps

    def list_roots(self) -> Dict[str, Any]:
        """The ``roots/list`` result.

        Raises:
            JSONRPCError: no roots were configured (-32601), or the callable returned bad roots.
        """
        roots = self._roots
        if roots is None:
            raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, "Method not found: roots/list (this client declared no roots)")
        if callable(roots):
            try:
                return {"roots": normalize_roots(roots())}
            except ValueError as exc:
                logger.warning("the roots callable returned an invalid root: %s", exc)
                raise JSONRPCError(ErrorCode.INTERNAL_ERROR, f"invalid roots: {exc}") from exc
        return {"roots": [dict(root) for root in roots]}

    def create_message(self, context: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        """Answer ``sampling/createMessage`` with the sampling handler.

        Raises:
            JSONRPCError: no handler (-32601); tools requested without declaring them (-32602);
                a malformed handler result (-32603).
        """
        handler = self.sampling_handler
        if handler is None:
            raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, "Method not found: sampling/createMessage (no sampling handler)")
        if ("tools" in params or "toolChoice" in params) and not self.sampling_tools:
            raise JSONRPCError(
                ErrorCode.INVALID_PARAMS, "sampling with tools was requested, but this client did not declare sampling.tools"
            )
        result = _as_dict(handler(context, params), "sampling")
        missing = [key for key in ("role", "content", "model") if key not in result]
        if missing:
            raise JSONRPCError(ErrorCode.INTERNAL_ERROR, f"the sampling handler's result lacks {', '.join(missing)}")
        return result

    def elicit(self, context: Any, params: Dict[str, Any], *, legacy: bool = True) -> Dict[str, Any]:
        """Answer ``elicitation/create`` with the elicitation handler.

        A legacy-era URL elicitation carries an ``elicitationId`` that a later
        ``notifications/elicitation/complete`` names; one inside a 2026-07-28
        ``InputRequiredResult`` (``legacy=False``) has neither.

        Raises:
            JSONRPCError: no handler (-32601); a mode the handler did not declare (-32602); an
                answer that is malformed or does not match the requested schema (-32603).
        """
        handler = self.elicitation_handler
        if handler is None:
            raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, "Method not found: elicitation/create (no elicitation handler)")
        mode = params.get("mode", "form")
        if mode not in self.elicitation_modes:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"elicitation mode {mode!r} is not supported by this client")
        if mode == "url" and not isinstance(params.get("url"), str):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "a URL elicitation needs 'url'")
        if mode == "url" and legacy and not isinstance(params.get("elicitationId"), str):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "a URL elicitation needs 'elicitationId'")
        answer = _as_dict(handler(context, params), "elicitation")
        try:
            result = check_elicitation_answer(params, answer)
        except SchemaValidationError as exc:
            logger.warning("not sending an invalid elicitation answer: %s", exc)
            raise JSONRPCError(ErrorCode.INTERNAL_ERROR, str(exc)) from exc
        if mode == "url" and legacy and result["action"] == "accept":
            with self._url_lock:
                self._open_url_elicitations.add(params["elicitationId"])
        return result

    def elicitation_completed(self, elicitation_id: Any) -> None:
        """Handle ``notifications/elicitation/complete``; unknown or repeated ids are ignored."""
        with self._url_lock:
            known = elicitation_id in self._open_url_elicitations
            self._open_url_elicitations.discard(elicitation_id)
        if not known:
            logger.debug("ignoring completion of unknown URL elicitation %r", elicitation_id)
            return
        if self.on_elicitation_complete is not None:
            self.on_elicitation_complete(str(elicitation_id))

    def answer(self, context: Any, method: str, params: Dict[str, Any], *, legacy: bool = True) -> Dict[str, Any]:
        """Answer one server request by method (``legacy=False`` for a 2026-07-28 input request).

        Raises:
            JSONRPCError: an unknown method (-32601) or one of the errors above.
        """
        if method == "roots/list":
            return self.list_roots()
        if method == "sampling/createMessage":
            return self.create_message(context, params)
        if method == "elicitation/create":
            return self.elicit(context, params, legacy=legacy)
        raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {method}")


def _as_dict(value: Any, what: str) -> Dict[str, Any]:
    """Accept a handler's return value: a mapping, or an object with ``to_dict()``."""
    if isinstance(value, Mapping):
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, Mapping):
            return dict(result)
    raise JSONRPCError(ErrorCode.INTERNAL_ERROR, f"the {what} handler must return a dict, got {type(value).__name__}")
