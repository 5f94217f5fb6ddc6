"""JSON Schema validation of tool arguments, structured results and elicitation answers.

Validators are compiled once per schema object and kept while that object lives. Compiling
gives two checkers:

* a **fast path** for the keywords that make up nearly every real tool schema (``type``,
  ``properties``, ``required``, ``enum``, bounds, ``items``, ``anyOf``...): plain Python closures,
  exact for that subset, used whenever the schema uses nothing else. ``import syncmcp`` and a
  typical call never import ``jsonschema``.
* the **full validator** from ``jsonschema``, imported on first need: for any other schema, and
  to word the error message when the fast path finds a problem. Its dialect is the one the
  schema declares (``$schema``), 2020-12 when it declares none (MCP 2025-11-25). A ``$ref`` is
  resolved only inside the schema itself (an explicit, empty ``referencing.Registry``), so
  nothing is ever fetched from the network.

Instances are checked as they will be on the wire: a tuple is an array, any mapping an object.

Example:
    >>> validator = SchemaValidators().get({"type": "object", "required": ["a"]})
    >>> validator.is_valid({"a": 1}), describe_errors(validator, {})
    (True, "at the top level: 'a' is a required property")
"""

from __future__ import annotations

import collections
import collections.abc
import json
import logging
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

__all__ = ["SchemaValidators", "Validator", "apply_defaults", "describe_errors", "first_error_path", "json_type"]

logger = logging.getLogger("syncmcp.validation")

#: Errors listed in one message before the rest are summarised.
_MAX_LISTED_ERRORS = 3
# The ABC, not ``typing.Mapping``: an ``isinstance`` against the typing alias costs several times more.
_MAPPING = collections.abc.Mapping

Check = Callable[[Any], bool]


def json_type(value: Any) -> Optional[str]:
    """The JSON Schema type of a decoded JSON value (a ``bool`` is no integer); ``None`` for other objects.

    Example:
        >>> [json_type(v) for v in (None, True, 3, 2.5, "s", [1], {"a": 1}, object())]
        ['null', 'boolean', 'integer', 'number', 'string', 'array', 'object', None]
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else None


class Validator:
    """One compiled schema: ``is_valid`` for the hot path, ``iter_errors`` for messages.

    ``usable`` is false when the schema itself is broken or needs an unresolvable reference;
    every instance is then accepted (the warning was logged once).
    """

    __slots__ = ("_check_formats", "_fast", "_full", "_lock", "check", "schema")

    def __init__(self, schema: Mapping[str, Any], check_formats: bool) -> None:
        self.schema = schema
        self._check_formats = check_formats
        self._fast = _compile_fast(schema, check_formats)
        self._full: Any = None  # compiled on first need; False when unusable
        self._lock = threading.Lock()
        #: ``check(instance)``: :meth:`is_valid`, or the compiled check itself when there is one.
        self.check: Check = self._fast if self._fast is not None else self.is_valid

    def is_valid(self, instance: Any) -> bool:
        """Whether ``instance`` matches the schema."""
        if self._fast is not None:
            return self._fast(instance)
        full = self._full_validator()
        if full is None:
            return True
        try:
            return bool(full.is_valid(instance))
        except Exception as exc:
            logger.warning("JSON schema validation skipped: %s", _short(exc))
            return True

    def iter_errors(self, instance: Any) -> List[Any]:
        """``jsonschema`` errors for ``instance``, shallowest first (``[]`` if valid)."""
        full = self._full_validator()
        if full is None:
            return []
        try:
            return sorted(full.iter_errors(instance), key=lambda e: (len(e.path), list(map(str, e.path))))
        except Exception as exc:
            logger.warning("JSON schema validation skipped: %s", _short(exc))
            return []

    @property
    def usable(self) -> bool:
        """Whether the schema can be enforced at all."""
        return self._fast is not None or self._full_validator() is not None

    def _full_validator(self) -> Any:
        with self._lock:
            if self._full is None:
                self._full = _compile_full(self.schema, self._check_formats) or False
            return self._full or None


class SchemaValidators:
    """A thread-safe, bounded cache of :class:`Validator` objects.

    Lookups go by schema object identity first (free), then by the schema's canonical JSON, so a
    re-listing that sends the same schemas again reuses their validators. Both maps are bounded:
    a server that keeps changing its schemas cannot grow memory without limit.

    With ``check_formats``, ``format`` keywords (email, date...) are checked too (those whose
    checker package is installed).
    """

    #: Validators kept by canonical schema text (least recently used dropped first).
    LIMIT = 1024

    def __init__(self, *, check_formats: bool = False) -> None:
        self._check_formats = check_formats
        self._lock = threading.Lock()
        # id(schema) -> (schema, validator): holding the schema keeps its id from being reused.
        self._by_id: Dict[int, Tuple[Any, Validator]] = {}
        self._by_text: collections.OrderedDict[str, Validator] = collections.OrderedDict()

    def get(self, schema: Mapping[str, Any]) -> Validator:
        """The compiled validator for ``schema``."""
        key = id(schema)
        hit = self._by_id.get(key)  # one dict read is atomic: the common case takes no lock
        if hit is not None and hit[0] is schema:
            return hit[1]
        text = _canonical(schema)
        with self._lock:
            validator = self._by_text.get(text)
            if validator is None:
                validator = Validator(schema, self._check_formats)  # compiling is pure CPU work
                self._by_text[text] = validator
                if len(self._by_text) > self.LIMIT:
                    self._by_text.popitem(last=False)
            else:
                self._by_text.move_to_end(text)
            if len(self._by_id) >= 4 * self.LIMIT:
                self._by_id.clear()  # stale identities of re-listed schemas
            self._by_id[key] = (schema, validator)
        return validator

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_text)

    def clear(self) -> None:
        """Forget every compiled validator."""
        with self._lock:
            self._by_id.clear()
            self._by_text.clear()


def _canonical(schema: Any) -> str:
    try:
        return json.dumps(schema, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(schema)


# ----------------------------------------------------------------------------- the full validator


def _compile_full(schema: Mapping[str, Any], check_formats: bool) -> Any:
    import jsonschema
    import jsonschema.validators
    from referencing import Registry

    try:
        base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        base.check_schema(schema)  # type: ignore[arg-type]
        checker = base.TYPE_CHECKER.redefine_many(
            {"array": lambda _c, value: isinstance(value, (list, tuple)), "object": lambda _c, value: isinstance(value, Mapping)}
        )
        cls = jsonschema.validators.extend(base, type_checker=checker)  # type: ignore[no-untyped-call]
        formats = base.FORMAT_CHECKER if check_formats else None  # unchecked when its package is absent
        return cls(schema, registry=Registry(), format_checker=formats)
    except Exception as exc:
        logger.warning("ignoring an unusable JSON schema (validation skipped): %s", _short(exc))
        return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------- the fast path

# Keywords that never assert anything (annotations), in every dialect MCP servers use.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$comment", "deprecated", "readOnly", "writeOnly",
     "$defs", "definitions", "contentMediaType", "contentEncoding", "$id", "$anchor"}
)  # fmt: skip
# Assertion and applicator keywords of draft-04 to 2020-12: one the fast path does not implement
# sends the schema to jsonschema. Anything else is an unknown keyword, which validators ignore.
_ASSERTIONS = frozenset(
    {"type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
     "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
     "maxProperties", "minProperties", "required", "dependentRequired", "properties", "patternProperties",
     "additionalProperties", "propertyNames", "items", "prefixItems", "contains", "allOf", "anyOf", "oneOf", "not",
     "if", "then", "else", "dependentSchemas", "unevaluatedItems", "unevaluatedProperties", "$ref", "$dynamicRef",
     "$recursiveRef", "additionalItems", "dependencies", "format", "$dynamicAnchor", "$recursiveAnchor", "$vocabulary"}
)  # fmt: skip


class _Unsupported(Exception):
    """The schema uses something the fast path does not implement."""


def _compile_fast(schema: Any, check_formats: bool) -> Optional[Check]:
    try:
        return _fast(schema, check_formats)
    except _Unsupported:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_check(name: str) -> Check:
    if name == "string":
        return lambda v: isinstance(v, str)
    if name == "number":
        return _is_number
    if name == "integer":
        return lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    if name == "boolean":
        return lambda v: isinstance(v, bool)
    if name == "null":
        return lambda v: v is None
    if name == "array":
        return lambda v: isinstance(v, (list, tuple))
    if name == "object":
        return _is_object
    raise _Unsupported(name)


def _is_object(value: Any) -> bool:
    # A dict (what JSON decodes to) without the ABC machinery; any other mapping through it.
    return type(value) is dict or isinstance(value, _MAPPING)


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema defines it: ``1 == 1.0``, but ``True != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _every(checks: List[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> bool:
        for c in checks:  # noqa: SIM110 - a loop, not all(<generator>): no generator per value
            if not c(value):
                return False
        return True

    return check


def _some(checks: List[Check]) -> Check:
    def check(value: Any) -> bool:
        return any(c(value) for c in checks)

    return check


def _exactly_one(checks: List[Check]) -> Check:
    def check(value: Any) -> bool:
        return sum(1 for c in checks if c(value)) == 1

    return check


def _one_of_values(options: List[Any]) -> Check:
    def check(value: Any) -> bool:
        return any(json_equal(value, option) for option in options)

    return check


def _bound(key: str, bound: float) -> Check:
    # Written as "fails when", like jsonschema, so that NaN compares the same way.
    def check(value: Any) -> bool:
        if not _is_number(value):
            return True
        if key == "minimum":
            return not value < bound
        if key == "maximum":
            return not value > bound
        if key == "exclusiveMinimum":
            return not value <= bound
        return not value >= bound

    return check


def _length(types: Tuple[type, ...], low: Optional[int], high: Optional[int]) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, types):
            return True
        size = len(value)  # type: ignore[arg-type]
        return (low is None or size >= low) and (high is None or size <= high)

    return check


def _each_item(item: Check) -> Check:
    def check(value: Any) -> bool:
        return not isinstance(value, (list, tuple)) or all(item(x) for x in value)

    return check


def _has_keys(required: List[str]) -> Check:
    def check(value: Any) -> bool:
        if type(value) is not dict and not isinstance(value, _MAPPING):
            return True
        for name in required:  # noqa: SIM110 - no generator per value
            if name not in value:
                return False
        return True

    return check


def _object_members(properties: Dict[str, Check], other: Optional[Check]) -> Check:
    def check(value: Any) -> bool:
        if type(value) is not dict and not isinstance(value, _MAPPING):
            return True
        for name, member in value.items():
            prop = properties.get(name)
            if prop is not None:
                if not prop(member):
                    return False
            elif other is not None and not other(member):
                return False
        return True

    return check


def _always(result: bool) -> Check:
    def check(value: Any) -> bool:
        return result

    return check


def _fast(schema: Any, check_formats: bool) -> Check:
    if schema is True or schema is False:
        return _always(schema)
    if not isinstance(schema, Mapping):
        raise _Unsupported("schema is not an object")
    for key in schema:
        if key in _ASSERTIONS and key not in _FAST_KEYWORDS:
            raise _Unsupported(key)
        if key == "format" and check_formats:
            raise _Unsupported(key)
    shaped = _object_shape(schema, check_formats)
    if shaped is not None:
        return shaped
    checks: List[Check] = []
    kind = schema.get("type")
    if kind is not None:
        names = [kind] if isinstance(kind, str) else list(kind) if isinstance(kind, list) else []
        if not names:
            raise _Unsupported("type")
        type_checks = [_type_check(name) for name in names]
        checks.append(type_checks[0] if len(type_checks) == 1 else _some(type_checks))
    if "enum" in schema:
        if not isinstance(schema["enum"], list):
            raise _Unsupported("enum")
        checks.append(_one_of_values(schema["enum"]))
    if "const" in schema:
        checks.append(_one_of_values([schema["const"]]))
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            if not _is_number(schema[key]):  # draft-04's boolean form
                raise _Unsupported(key)
            checks.append(_bound(key, schema[key]))
    if "minLength" in schema or "maxLength" in schema:
        checks.append(_length((str,), _count(schema, "minLength"), _count(schema, "maxLength")))
    if "minItems" in schema or "maxItems" in schema:
        checks.append(_length((list, tuple), _count(schema, "minItems"), _count(schema, "maxItems")))
    if "items" in schema:
        if isinstance(schema["items"], list):  # draft-07 tuple validation
            raise _Unsupported("items")
        checks.append(_each_item(_fast(schema["items"], check_formats)))
    if "required" in schema:
        if not isinstance(schema["required"], list):
            raise _Unsupported("required")
        checks.append(_has_keys(schema["required"]))
    if "properties" in schema or "additionalProperties" in schema:
        properties = schema.get("properties") or {}
        if not isinstance(properties, Mapping):
            raise _Unsupported("properties")
        extra = schema.get("additionalProperties", True)
        compiled = {name: _fast(sub, check_formats) for name, sub in properties.items()}
        checks.append(_object_members(compiled, None if extra is True else _fast(extra, check_formats)))
    for key, combine in (("anyOf", _some), ("allOf", _every), ("oneOf", _exactly_one)):
        if key in schema:
            branches = schema[key]
            if not isinstance(branches, list) or not branches:
                raise _Unsupported(key)
            checks.append(combine([_fast(branch, check_formats) for branch in branches]))
    return _every(checks) if checks else _always(True)


# The keywords of the usual tool schema (besides annotations), checked by _object_shape.
_SHAPE_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})
# A property schema of ``type`` only (besides annotations) is checked inline, by these types.
_SIMPLE_TYPES: Dict[str, Tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict, _MAPPING),
}


def _object_shape(schema: Mapping[str, Any], check_formats: bool) -> Optional[Check]:
    """One check for the usual tool schema, ``type: object`` with ``properties`` and ``required``.

    The same verdicts as the general composition, in one function: a call's arguments are
    checked with one call, plus one per member whose schema is more than a plain type.
    ``None`` for any other schema.
    """
    if schema.get("type") != "object" or any(key in _ASSERTIONS and key not in _SHAPE_KEYWORDS for key in schema):
        return None
    required = schema.get("required", [])
    properties = schema.get("properties") or {}
    extra = schema.get("additionalProperties", True)
    if not isinstance(required, list) or not isinstance(properties, Mapping):
        return None
    members: Dict[str, Union[Check, Tuple[type, ...]]] = {}
    for name, sub in properties.items():
        kind = sub.get("type") if isinstance(sub, Mapping) and set(sub) - _ANNOTATIONS == {"type"} else None
        simple = _SIMPLE_TYPES.get(kind) if isinstance(kind, str) else None
        members[name] = simple if simple is not None else _fast(sub, check_formats)
    other = None if extra is True else _fast(extra, check_formats)

    def check(value: Any) -> bool:
        if type(value) is not dict and not isinstance(value, _MAPPING):
            return False
        for name in required:
            if name not in value:
                return False
        for name, member in value.items():
            prop = members.get(name)
            if prop is None:
                if other is not None and not other(member):
                    return False
            elif isinstance(prop, tuple):
                if not isinstance(member, prop):
                    return False
            elif not prop(member):
                return False
        return True

    return check


def _count(schema: Mapping[str, Any], key: str) -> Optional[int]:
    if key not in schema:
        return None
    value = schema[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Unsupported(key)
    return value


_FAST_KEYWORDS = frozenset(
    {"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
     "minItems", "maxItems", "items", "required", "properties", "additionalProperties", "anyOf", "allOf", "oneOf",
     "format"}
)  # fmt: skip


# ----------------------------------------------------------------------------- messages


def _path_text(path: List[Any]) -> str:
    if not path:
        return "at the top level"
    return "at '" + "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path)) + "'"


def describe_errors(validator: Optional[Validator], instance: Any) -> Optional[str]:
    """``None`` if ``instance`` is valid, else a message naming each bad field.

    Example:
        >>> v = SchemaValidators().get({"properties": {"n": {"type": "integer"}}})
        >>> describe_errors(v, {"n": "x"})
        "at 'n': 'x' is not of type 'integer'"
    """
    if validator is None or validator.is_valid(instance):
        return None
    errors = validator.iter_errors(instance)
    if not errors:
        return None
    parts = [f"{_path_text(list(error.absolute_path))}: {error.message}" for error in errors[:_MAX_LISTED_ERRORS]]
    if len(errors) > _MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - _MAX_LISTED_ERRORS} more")
    return "; ".join(parts)


def first_error_path(validator: Optional[Validator], instance: Any) -> List[Any]:
    """The JSON path of the first error (``[]`` if valid or at the top level)."""
    if validator is None or validator.is_valid(instance):
        return []
    errors = validator.iter_errors(instance)
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
