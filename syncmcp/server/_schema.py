"""JSON Schema from Python type hints, arguments from JSON, and JSON from return values.

Three pure functions the tool machinery is built on:

* :func:`schema_for` turns an annotation into a JSON Schema (2020-12 dialect, no ``$schema``):
  ``str int float bool None``, ``list/List/Sequence/set/frozenset/tuple``, ``dict/Dict/Mapping``
  (string keys), ``Optional``/``Union`` (``X | Y`` too), ``Literal``, ``Enum``, dataclasses,
  TypedDicts (``total=False``, ``Required``/``NotRequired``), ``Annotated[T, "description"]`` or
  ``Annotated[T, {"minimum": 0}]``, ``datetime``/``date``/``time``, ``Path``, ``UUID`` and ``Any``.
  Named types are inlined; a type that contains itself is emitted once under ``$defs``.
* :func:`coerce` turns validated JSON into the annotated Python value (enums, dataclasses,
  tuples, sets, dates, paths).
* :func:`to_jsonable` turns a return value into JSON (dataclasses, enums, dates, paths, tuples).

Example:
    >>> from typing import List, Optional
    >>> schema_for(Optional[List[int]])
    {'anyOf': [{'type': 'array', 'items': {'type': 'integer'}}, {'type': 'null'}]}
    >>> coerce([1, 2], tuple)
    (1, 2)
"""

from __future__ import annotations

import collections.abc as _abc
import dataclasses
import datetime
import enum
import inspect
import math
import pathlib
import types
import typing
import uuid
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple

from .._validation import json_type
from ._docstrings import parse_docstring

__all__ = [
    "check_schema",
    "coerce",
    "is_dataclass_type",
    "is_structured_type",
    "is_typeddict",
    "object_schema",
    "resolve_hints",
    "schema_for",
    "to_jsonable",
]


def check_schema(schema: Mapping[str, Any]) -> None:
    """Refuse a schema that is not valid JSON Schema (in its ``$schema`` dialect, else 2020-12).

    Validation itself is ``syncmcp._validation``'s; this only checks a schema given by hand, so
    a mistake fails when the tool is registered rather than at its first call.

    Raises:
        ValueError: the schema is invalid; the message says where.

    Example:
        >>> check_schema({"type": "object", "properties": {"n": {"type": "integer"}}})
        >>> try:
        ...     check_schema({"type": "no-such-type"})
        ... except ValueError as exc:
        ...     print(str(exc).split(":")[0])
        invalid JSON Schema
    """
    # Imported here: jsonschema costs ~50 ms to import and most processes never need it.
    from jsonschema import SchemaError, validators

    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(dict(schema))
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from exc


_NONE_TYPE = type(None)
#: ``typing.Union`` and, from Python 3.10, the type of ``X | Y``.
_UNION_TYPES: Tuple[Any, ...] = tuple(t for t in (typing.Union, getattr(types, "UnionType", None)) if t is not None)
_REQUIRED_MARKERS = tuple(m for m in (getattr(typing, "Required", None), getattr(typing, "NotRequired", None)) if m)
_READONLY_MARKER = getattr(typing, "ReadOnly", None)
_SEQUENCE_ORIGINS = (list, tuple, set, frozenset)
#: Abstract collections accepted as arrays (``Sequence[int]`` has origin ``collections.abc.Sequence``).
_ABC_LISTS: Tuple[Any, ...] = (_abc.Sequence, _abc.MutableSequence, _abc.Iterable, _abc.Collection)
#: Abstract sets: arrays of unique items.
_ABC_SETS: Tuple[Any, ...] = (_abc.Set, _abc.MutableSet)
_ABC_SEQUENCES = _ABC_LISTS + _ABC_SETS
_ABC_MAPPINGS: Tuple[Any, ...] = (_abc.Mapping, _abc.MutableMapping)


def is_typeddict(tp: Any) -> bool:
    """Whether ``tp`` is a ``TypedDict`` class (from ``typing`` or ``typing_extensions``).

    Example:
        >>> class Point(typing.TypedDict):
        ...     x: int
        >>> is_typeddict(Point), is_typeddict(dict)
        (True, False)
    """
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__") and hasattr(tp, "__annotations__")


def is_dataclass_type(tp: Any) -> bool:
    """Whether ``tp`` is a dataclass *class* (not an instance).

    Example:
        >>> @dataclasses.dataclass
        ... class P:
        ...     x: int
        >>> is_dataclass_type(P), is_dataclass_type(P(1))
        (True, False)
    """
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _strip_annotated(tp: Any) -> Tuple[Any, List[Any]]:
    """``Annotated[T, m1, m2]`` -> ``(T, [m1, m2])``; required/read-only markers removed too."""
    metadata: List[Any] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            args = typing.get_args(tp)
            tp, metadata = args[0], [*metadata, *args[1:]]
        elif origin is not None and (
            origin in _REQUIRED_MARKERS or (_READONLY_MARKER is not None and origin is _READONLY_MARKER)
        ):
            tp = typing.get_args(tp)[0]
        else:
            return tp, metadata


def is_structured_type(tp: Any) -> bool:
    """Whether a return annotation produces ``structuredContent``: a dataclass, TypedDict or dict.

    Example:
        >>> is_structured_type(Dict[str, int]), is_structured_type(int)
        (True, False)
    """
    tp, _ = _strip_annotated(tp)
    origin = typing.get_origin(tp)
    return (
        is_dataclass_type(tp)
        or is_typeddict(tp)
        or tp in (dict, Dict)
        or origin is dict
        or tp in _ABC_MAPPINGS
        or origin in _ABC_MAPPINGS
    )


def resolve_hints(obj: Any) -> Dict[str, Any]:
    """``typing.get_type_hints(obj, include_extras=True)`` with an error that names the object.

    Raises:
        TypeError: an annotation cannot be evaluated (a forward reference to a name that does
            not exist, or ``X | Y`` on Python < 3.10).
    """
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:  # NameError, TypeError, SyntaxError from string annotations
        name = getattr(obj, "__qualname__", repr(obj))
        raise TypeError(f"cannot evaluate the type hints of {name}: {exc}") from exc


class _Builder:
    """Builds one schema; remembers named types so recursion becomes ``$defs`` + ``$ref``."""

    def __init__(self) -> None:
        self.stack: List[Any] = []
        self.recursive: Dict[Any, str] = {}
        self.defs: Dict[str, Any] = {}

    def build(self, tp: Any) -> Dict[str, Any]:
        schema = self.schema(tp)
        self.define_recursive()
        root, _ = _strip_annotated(tp)
        if root in self.recursive and schema.get("$ref") == f"#/$defs/{self.recursive[root]}":
            # A self-referencing root type: inline its definition (tool schemas must be objects
            # at the top), keep $defs for the inner references.
            schema = {**self.defs[self.recursive[root]], **{k: v for k, v in schema.items() if k != "$ref"}}
        if self.defs:
            schema = {**schema, "$defs": self.defs}
        return schema

    def define_recursive(self) -> None:
        # Named types that refer to themselves were emitted as $ref; define them now (each
        # definition may reveal further recursive types, hence the loop).
        done: Set[Any] = set()
        while len(done) < len(self.recursive):
            for named, key in list(self.recursive.items()):
                if named in done:
                    continue
                done.add(named)
                self.stack.append(named)
                self.defs[key] = self.named_schema(named)
                self.stack.pop()

    def schema(self, tp: Any) -> Dict[str, Any]:
        tp, metadata = _strip_annotated(tp)
        schema = self.plain(tp)
        for item in metadata:
            if isinstance(item, str):
                schema = {**schema, "description": item}
            elif isinstance(item, dict):
                schema = {**schema, **item}
        return schema

    def plain(self, tp: Any) -> Dict[str, Any]:
        if tp is Any or tp is object:
            return {}
        if tp is None or tp is _NONE_TYPE:
            return {"type": "null"}
        if tp is str:
            return {"type": "string"}
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:
            return {"type": "number"}
        if tp is bytes:
            return {"type": "string", "contentEncoding": "base64"}
        if tp is datetime.datetime:
            return {"type": "string", "format": "date-time"}
        if tp is datetime.date:
            return {"type": "string", "format": "date"}
        if tp is datetime.time:
            return {"type": "string", "format": "time"}
        if tp is uuid.UUID:
            return {"type": "string", "format": "uuid"}
        if isinstance(tp, type) and issubclass(tp, pathlib.PurePath):
            return {"type": "string"}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _enum_schema([member.value for member in tp])
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Literal:
            return _enum_schema(list(args))
        if origin in _UNION_TYPES:
            return self.union(args)
        if tp in (list, set, frozenset, tuple) or tp in _ABC_SEQUENCES:
            schema: Dict[str, Any] = {"type": "array"}
            if tp in (set, frozenset) or tp in _ABC_SETS:
                schema["uniqueItems"] = True
            return schema
        if origin in _SEQUENCE_ORIGINS or origin in _ABC_SEQUENCES:
            return self.sequence(origin, args)
        if tp in (dict, Dict) or tp in _ABC_MAPPINGS:
            return {"type": "object"}
        if origin is dict or origin in _ABC_MAPPINGS:
            key, value = (*args, Any, Any)[:2]
            key, _ = _strip_annotated(key)
            if key not in (str, Any) and not (isinstance(key, type) and issubclass(key, str)):
                raise TypeError(f"JSON object keys are strings; {tp!r} has {key!r} keys")
            value_schema = self.schema(value)
            return {"type": "object", "additionalProperties": value_schema} if value_schema else {"type": "object"}
        if is_dataclass_type(tp) or is_typeddict(tp):
            return self.reference(tp)
        raise TypeError(f"no JSON Schema for type {tp!r}; use a JSON type, a dataclass, a TypedDict or Any")

    def union(self, args: Tuple[Any, ...]) -> Dict[str, Any]:
        members = [self.schema(arg) for arg in args]
        # Compact form for unions of plain types: {"type": ["string", "null"]}.
        if all(set(m) == {"type"} and isinstance(m["type"], str) for m in members):
            names: List[str] = []
            for m in members:
                if m["type"] not in names:
                    names.append(m["type"])
            return {"type": names[0]} if len(names) == 1 else {"type": names}
        return {"anyOf": members}

    def sequence(self, origin: Any, args: Tuple[Any, ...]) -> Dict[str, Any]:
        schema: Dict[str, Any] = {"type": "array"}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                schema["items"] = self.schema(args[0])
            elif args == ((),):  # Tuple[()]
                schema["maxItems"] = 0
            elif args:
                schema["prefixItems"] = [self.schema(arg) for arg in args]
                schema["minItems"] = schema["maxItems"] = len(args)
                schema["items"] = False
            return schema
        if args:
            items = self.schema(args[0])
            if items:
                schema["items"] = items
        if origin in (set, frozenset) or origin in _ABC_SETS:
            schema["uniqueItems"] = True
        return schema

    def reference(self, tp: Any) -> Dict[str, Any]:
        if tp in self.stack:
            key = self.recursive.get(tp)
            if key is None:
                key = _def_name(tp, set(self.recursive.values()))
                self.recursive[tp] = key
            return {"$ref": f"#/$defs/{key}"}
        if tp in self.recursive:
            return {"$ref": f"#/$defs/{self.recursive[tp]}"}
        self.stack.append(tp)
        try:
            schema = self.named_schema(tp)
        finally:
            self.stack.pop()
        if tp in self.recursive:  # it referred to itself: the definition goes to $defs
            return {"$ref": f"#/$defs/{self.recursive[tp]}"}
        return schema

    def named_schema(self, tp: Any) -> Dict[str, Any]:
        hints = resolve_hints(tp)
        docs = parse_docstring(tp.__doc__ if tp.__doc__ and not _is_generated_doc(tp) else None)
        properties: Dict[str, Any] = {}
        required: List[str] = []
        if is_dataclass_type(tp):
            for item in dataclasses.fields(tp):
                if not item.init:
                    continue
                prop = self.schema(hints.get(item.name, Any))
                if item.name in docs.params and "description" not in prop:
                    prop = {**prop, "description": docs.params[item.name]}
                if item.default is not dataclasses.MISSING:
                    default = _json_default(item.default)
                    if default is not _NO_DEFAULT:
                        prop = {**prop, "default": default}
                elif item.default_factory is dataclasses.MISSING:
                    required.append(item.name)
                properties[item.name] = prop
        else:
            required_keys: FrozenSet[str] = getattr(tp, "__required_keys__", frozenset())
            for name, hint in hints.items():
                prop = self.schema(hint)
                if name in docs.params and "description" not in prop:
                    prop = {**prop, "description": docs.params[name]}
                properties[name] = prop
                # With string annotations the class cannot see Required/NotRequired markers
                # when it is created; the resolved hints still carry them.
                marker = typing.get_origin(hint)
                if marker is not None and marker is getattr(typing, "NotRequired", None):
                    continue
                if name in required_keys or (marker is not None and marker is getattr(typing, "Required", None)):
                    required.append(name)
        schema: Dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if docs.description:
            schema["description"] = docs.description
        return schema


_NO_DEFAULT = object()


def _json_default(value: Any) -> Any:
    """A default value as JSON, or ``_NO_DEFAULT`` when it has no JSON form."""
    try:
        return to_jsonable(value)
    except TypeError:
        return _NO_DEFAULT


def _is_generated_doc(tp: Any) -> bool:
    # dataclasses generate "Name(field: type, ...)" when the class has no docstring.
    doc = tp.__doc__ or ""
    return doc.startswith(f"{tp.__name__}(")


def _def_name(tp: Any, taken: Set[str]) -> str:
    base = getattr(tp, "__name__", "Type")
    name, index = base, 2
    while name in taken:
        name, index = f"{base}{index}", index + 1
    return name


def _enum_schema(values: List[Any]) -> Dict[str, Any]:
    schema: Dict[str, Any] = {"enum": values}
    kinds = {json_type(v) for v in values}
    if len(kinds) == 1 and None not in kinds:
        schema = {"type": kinds.pop(), "enum": values}
    return schema


def schema_for(tp: Any) -> Dict[str, Any]:
    """The JSON Schema of one annotation (see the module docs for what is supported).

    Raises:
        TypeError: the type has no JSON form (e.g. a plain class), or a dict has non-string keys.

    Example:
        >>> schema_for(Dict[str, float])
        {'type': 'object', 'additionalProperties': {'type': 'number'}}
    """
    return _Builder().build(tp)


def object_schema(fields: List[Tuple[str, Any, Any, Optional[str]]], *, additional_properties: bool = False) -> Dict[str, Any]:
    """An object schema from ``(name, annotation, default, description)`` tuples.

    ``default`` is ``inspect.Parameter.empty`` (or :data:`dataclasses.MISSING`) for a required
    field. Named types shared between fields are built once; recursion lands in ``$defs``.

    Example:
        >>> import inspect
        >>> object_schema([("a", int, inspect.Parameter.empty, "first"), ("b", str, "x", None)])["required"]
        ['a']
    """
    builder = _Builder()
    properties: Dict[str, Any] = {}
    required: List[str] = []
    for name, annotation, default, description in fields:
        prop = builder.schema(annotation)
        if description and "description" not in prop:
            prop = {**prop, "description": description}
        if default is inspect.Parameter.empty or default is dataclasses.MISSING:
            required.append(name)
        else:
            value = _json_default(default)
            if value is not _NO_DEFAULT:
                prop = {**prop, "default": value}
        properties[name] = prop
    schema: Dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if not additional_properties:
        schema["additionalProperties"] = False
    builder.define_recursive()
    if builder.defs:
        schema["$defs"] = builder.defs
    return schema


# ----------------------------------------------------------------------------------- coercion


def coerce(value: Any, tp: Any) -> Any:
    """Turn a JSON value (already validated against :func:`schema_for` of ``tp``) into ``tp``.

    Enums, dataclasses, tuples, sets, dates, times, paths and UUIDs are constructed; other
    values pass through unchanged (an ``int`` becomes a ``float`` where one is annotated).

    Raises:
        ValueError: the value cannot be converted (e.g. a malformed date).

    Example:
        >>> import enum
        >>> class Color(enum.Enum):
        ...     RED = "red"
        >>> coerce("red", Color)
        <Color.RED: 'red'>
    """
    tp, _ = _strip_annotated(tp)
    if tp is Any or tp is object or (value is None and tp in (None, _NONE_TYPE)):
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in _UNION_TYPES:
        if value is None and _NONE_TYPE in args:
            return None
        errors = []
        for member in args:
            if member is _NONE_TYPE or not _fits(value, member):
                continue
            try:
                return coerce(value, member)
            except (ValueError, TypeError) as exc:
                errors.append(exc)
        if errors:
            raise ValueError(str(errors[0]))
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if tp is datetime.datetime and isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if tp is datetime.date and isinstance(value, str):
        return datetime.date.fromisoformat(value)
    if tp is datetime.time and isinstance(value, str):
        return datetime.time.fromisoformat(value)
    if tp is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    if isinstance(tp, type) and issubclass(tp, pathlib.PurePath) and isinstance(value, str):
        return tp(value)
    if is_dataclass_type(tp) and isinstance(value, dict):
        hints = resolve_hints(tp)
        kwargs = {key: coerce(item, hints.get(key, Any)) for key, item in value.items()}
        return tp(**kwargs)
    if is_typeddict(tp) and isinstance(value, dict):
        hints = resolve_hints(tp)
        return {key: coerce(item, hints.get(key, Any)) for key, item in value.items()}
    if isinstance(value, list):
        if tp in (tuple, set, frozenset):
            return tp(value)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(coerce(item, args[0]) for item in value)
            if args and args != ((),):
                return tuple(coerce(item, member) for item, member in zip(value, args))
            return tuple(value)
        if origin in (list, set, frozenset) or origin in _ABC_SEQUENCES:
            items = [coerce(item, args[0]) for item in value] if args else list(value)
            if origin in (set, frozenset):
                return origin(items)
            if origin in _ABC_SETS:
                return set(items)
            return items
    if isinstance(value, dict) and (origin is dict or origin in _ABC_MAPPINGS) and len(args) == 2:
        return {key: coerce(item, args[1]) for key, item in value.items()}
    return value


def _fits(value: Any, tp: Any) -> bool:
    """A cheap check that ``value`` could be an instance of ``tp`` (to pick a Union member)."""
    tp, _ = _strip_annotated(tp)
    if tp is Any or tp is object:
        return True
    origin = typing.get_origin(tp) or tp
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if origin in _UNION_TYPES:
        return any(_fits(value, member) for member in typing.get_args(tp))
    if isinstance(value, bool):
        return origin is bool
    if isinstance(value, int):
        return origin in (int, float) or (isinstance(origin, type) and issubclass(origin, enum.Enum))
    if isinstance(value, float):
        return origin is float or (isinstance(origin, type) and issubclass(origin, enum.Enum))
    if isinstance(value, str):
        return origin in (str, datetime.datetime, datetime.date, datetime.time, uuid.UUID) or (
            isinstance(origin, type) and issubclass(origin, (pathlib.PurePath, enum.Enum, str))
        )
    if isinstance(value, list):
        return origin in _SEQUENCE_ORIGINS or origin in _ABC_SEQUENCES
    if isinstance(value, dict):
        return origin is dict or origin in _ABC_MAPPINGS or is_dataclass_type(origin) or is_typeddict(origin)
    return value is None and origin in (None, _NONE_TYPE)


# ----------------------------------------------------------------------------------- output


def to_jsonable(value: Any) -> Any:
    """A return value as JSON: dataclasses become objects, enums their values, dates ISO text.

    Raises:
        TypeError: a value has no JSON form.

    Example:
        >>> import datetime
        >>> to_jsonable({"when": datetime.date(2026, 7, 28), "tags": ("a", "b")})
        {'when': '2026-07-28', 'tags': ['a', 'b']}
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise TypeError("NaN and infinities have no JSON form")
        return value
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: to_jsonable(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, dict):
        result = {}
        for raw_key, item in value.items():
            key = raw_key.value if isinstance(raw_key, enum.Enum) else raw_key
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, got {key!r}")
            result[key] = to_jsonable(item)
        return result
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(item) for item in items]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, pathlib.PurePath)):
        return str(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict())
    raise TypeError(f"{type(value).__name__} has no JSON form")
