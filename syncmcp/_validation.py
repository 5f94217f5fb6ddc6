"""JSON Schema validation of tool arguments, structured results and elicitation answers.

``jsonschema`` is imported on first use only (import time matters in notebooks and CLIs).
Validators are compiled once per schema object and kept while that object lives. The dialect is
the one the schema declares (``$schema``), 2020-12 when it declares none (MCP 2025-11-25). A
``$ref`` is resolved only inside the schema itself: every validator gets an explicit, empty
``referencing.Registry``, so nothing is ever fetched from the network.

Example:
    >>> validator = SchemaValidators().get({"type": "object", "required": ["a"]})
    >>> describe_errors(validator, {})
    "at the top level: 'a' is a required property"
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = ["SchemaValidators", "apply_defaults", "describe_errors", "first_error_path"]

logger = logging.getLogger("syncmcp.validation")

#: Errors listed in one message before the rest are summarised.
_MAX_LISTED_ERRORS = 3


class SchemaValidators:
    """A thread-safe cache of compiled validators, keyed by schema object identity.

    With ``check_formats``, ``format`` keywords (email, date...) are checked too. A schema
    that is itself invalid, or that needs a reference the empty registry cannot
    resolve, gets ``None``: callers then skip validation rather than block calls because a
    server published a broken schema (a warning is logged once).
    """

    def __init__(self, *, check_formats: bool = False) -> None:
        self._check_formats = check_formats
        self._lock = threading.Lock()
        # id(schema) -> (schema, validator); keeping the schema keeps its id from being reused.
        self._cache: Dict[int, Tuple[Any, Any]] = {}

    def get(self, schema: Mapping[str, Any]) -> Any:
        """The compiled validator for ``schema`` (``None`` if the schema is unusable)."""
        key = id(schema)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] is schema:
            return hit[1]
        validator = _compile(schema, self._check_formats)
        with self._lock:
            self._cache[key] = (schema, validator)
        return validator

    def clear(self) -> None:
        """Forget every compiled validator (after a re-listing, say)."""
        with self._lock:
            self._cache.clear()


def _compile(schema: Mapping[str, Any], check_formats: bool) -> Any:
    import jsonschema
    import jsonschema.validators
    from referencing import Registry

    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)  # type: ignore[arg-type]
        # Formats whose optional checker package is not installed are simply not checked.
        checker = cls.FORMAT_CHECKER if check_formats else None
        return cls(schema, registry=Registry(), format_checker=checker)
    except Exception as exc:
        logger.warning("ignoring an unusable JSON schema (validation skipped): %s", _short(exc))
        return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _path_text(path: List[Any]) -> str:
    if not path:
        return "at the top level"
    return "at '" + "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path)) + "'"


def _errors(validator: Any, instance: Any) -> List[Any]:
    try:
        return sorted(validator.iter_errors(instance), key=lambda e: (len(e.path), list(map(str, e.path))))
    except Exception as exc:
        logger.warning("JSON schema validation skipped: %s", _short(exc))
        return []


def describe_errors(validator: Any, instance: Any) -> Optional[str]:
    """``None`` if ``instance`` is valid, else a message naming each bad field.

    Example:
        >>> v = SchemaValidators().get({"properties": {"n": {"type": "integer"}}})
        >>> describe_errors(v, {"n": "x"})
        "at 'n': 'x' is not of type 'integer'"
    """
    if validator is None:
        return None
    errors = _errors(validator, instance)
    if not errors:
        return None
    parts = [f"{_path_text(list(error.absolute_path))}: {error.message}" for error in errors[:_MAX_LISTED_ERRORS]]
    if len(errors) > _MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - _MAX_LISTED_ERRORS} more")
    return "; ".join(parts)


def first_error_path(validator: Any, instance: Any) -> List[Any]:
    """The JSON path of the first error (``[]`` if valid or at the top level)."""
    errors = _errors(validator, instance) if validator is not None else []
    return list(errors[0].absolute_path) if errors else []


def apply_defaults(schema: Mapping[str, Any], content: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Fill the ``default`` of every top-level property missing from ``content``.

    Elicitation forms are flat, so only top-level properties carry defaults (MCP 2025-11-25).

    Example:
        >>> apply_defaults({"properties": {"n": {"type": "integer", "default": 3}}}, {})
        {'n': 3}
    """
    filled = dict(content or {})
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, spec in properties.items():
            if name not in filled and isinstance(spec, Mapping) and "default" in spec:
                filled[name] = spec["default"]
    return filled
