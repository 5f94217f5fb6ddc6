"""JSON Schema validation for the server: compiled lazily, never fetching a network ``$ref``.

``jsonschema`` is imported on first use only (``import syncmcp`` must stay light). The dialect
is the schema's ``$schema`` or, without one, 2020-12 (the MCP default since 2025-11-25).
Validators are built with an explicit empty ``referencing.Registry()``: jsonschema would
otherwise still retrieve remote references; local ``#/$defs/...`` references keep working.

Example:
    >>> check = SchemaValidator({"type": "object", "required": ["a"]})
    >>> check.error({"a": 1}) is None
    True
    >>> check.error({})
    "'a' is a required property"
"""

from __future__ import annotations

import threading
from typing import Any, List, Mapping, Optional

__all__ = ["SchemaValidator"]

#: Most violations listed in one error message (the rest are counted).
_MAX_LISTED = 3


class SchemaValidator:
    """One compiled schema; thread-safe, compiled on the first :meth:`error` call.

    Args:
        schema: the JSON Schema.

    Example:
        >>> SchemaValidator({"type": "integer"}).error("x")
        "'x' is not of type 'integer'"
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = dict(schema)
        self._validator: Any = None
        self._lock = threading.Lock()

    def _compiled(self) -> Any:
        validator = self._validator
        if validator is None:
            # Imported here: jsonschema costs ~50 ms to import and most processes never validate.
            import referencing
            from jsonschema import validators

            cls = validators.validator_for(self.schema, default=validators.Draft202012Validator)
            cls.check_schema(self.schema)
            validator = cls(self.schema, registry=referencing.Registry(), format_checker=cls.FORMAT_CHECKER)
            with self._lock:
                if self._validator is None:
                    self._validator = validator
        return validator

    def check_schema(self) -> None:
        """Compile now, so a malformed schema fails at registration rather than at the first call.

        Raises:
            ValueError: the schema itself is invalid.
        """
        try:
            self._compiled()
        except Exception as exc:
            raise ValueError(f"invalid JSON Schema: {getattr(exc, 'message', exc)}") from exc

    def error(self, instance: Any) -> Optional[str]:
        """``None`` when ``instance`` conforms, else a message naming the violations and where.

        Example:
            >>> SchemaValidator({"properties": {"n": {"minimum": 0}}}).error({"n": -1})
            'at n: -1 is less than the minimum of 0'
        """
        from jsonschema import exceptions

        validator = self._compiled()
        try:
            errors = sorted(validator.iter_errors(instance), key=exceptions.relevance)
        except Exception as exc:  # an unresolvable $ref, a recursion limit
            return f"the value could not be validated: {exc}"
        if not errors:
            return None
        # relevance sorts the least relevant first; best_match's choice is the last.
        errors.reverse()
        parts: List[str] = []
        for err in errors[:_MAX_LISTED]:
            where = ".".join(str(p) for p in err.absolute_path)
            parts.append(f"at {where}: {err.message}" if where else err.message)
        if len(errors) > _MAX_LISTED:
            parts.append(f"and {len(errors) - _MAX_LISTED} more")
        return "; ".join(parts)
