"""The validation fast path agrees with jsonschema, and is chosen only where it is exact."""

from __future__ import annotations

import random
from typing import Any, List

import jsonschema
import pytest

from syncmcp._validation import SchemaValidators, Validator, apply_defaults, describe_errors, json_equal

SCHEMAS: List[Any] = [
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "integer"}}, "required": ["a", "b"], "additionalProperties": False},
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 10, "exclusiveMaximum": 10}}},
    {"type": "object", "properties": {"s": {"type": "string", "minLength": 2, "maxLength": 3}}, "additionalProperties": {"type": "boolean"}},
    {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 1, "maxItems": 2}}},
    {"type": "object", "properties": {"x": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "y": {"type": ["integer", "null"]}}},
    {"type": "object", "properties": {"c": {"oneOf": [{"const": 1}, {"const": True}, {"type": "number", "minimum": 5}]}}},
    {"type": "object", "properties": {"e": {"enum": [1, "1", None, [1, 2], {"k": 1}, False]}}},
    {"allOf": [{"type": "object", "required": ["a"]}, {"properties": {"a": {"type": "string"}}}]},
    {"type": "array", "items": {"type": "object", "properties": {"v": {"type": "number", "exclusiveMinimum": 0}}}},
    {"type": "object", "properties": {"d": {"type": "string", "format": "date", "description": "ignored", "x-custom": 1}}},
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"m": {"type": "string"}}},
    # the usual tool shape, checked by one function: plain-typed members inline, others compiled
    {"type": "object", "properties": {"text": {"type": "string", "description": "t"}, "a": {"type": "boolean"},
     "tags": {"type": "array"}, "m": {"type": "object", "title": "M"}, "n": {"type": "integer"}},
     "required": ["text", "a"], "additionalProperties": False},
    {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": {"type": "number"}},
]

VALUES: List[Any] = [
    None, True, False, 0, 1, 1.0, 1.5, -3, 5, 10, 9.999, float("nan"), "", "a", "ab", "abcd", "1", [], ["a"], ["a", "b", "a"],
    ("a",), ["c"], [1, 2], {"k": 1}, {}, {"k": True},
]  # fmt: skip

KEYS = ["text", "a", "b", "n", "s", "tags", "x", "y", "c", "e", "v", "d", "m", "other"]


def random_instance(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.35:
        return {key: random_instance(rng, depth + 1) for key in rng.sample(KEYS, rng.randint(0, 4))}
    if depth < 2 and roll < 0.45:
        return [random_instance(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return rng.choice(VALUES)


def reference(schema: Any) -> Any:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    checker = cls.TYPE_CHECKER.redefine("array", lambda _c, v: isinstance(v, (list, tuple)))
    return jsonschema.validators.extend(cls, type_checker=checker)(schema)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_fast_path_agrees_with_jsonschema_on_random_instances(schema: Any) -> None:
    validator = Validator(schema, check_formats=False)
    assert validator._fast is not None, "this schema should take the fast path"
    full = reference(schema)
    rng = random.Random(hash(str(schema)) & 0xFFFF)
    for _ in range(400):
        instance = random_instance(rng)
        assert validator.is_valid(instance) == full.is_valid(instance), (schema, instance)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"type": "string"}}},
        {"type": "object", "properties": {"p": {"type": "string", "pattern": "^a"}}},
        {"type": "object", "patternProperties": {"^x": {"type": "integer"}}},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "items": [{"type": "string"}]},
        {"$schema": "http://json-schema.org/draft-04/schema#", "properties": {"n": {"minimum": 1, "exclusiveMinimum": True}}},
    ],
)
def test_schemas_beyond_the_fast_path_fall_back_to_jsonschema(schema: Any) -> None:
    validator = Validator(schema, check_formats=False)
    assert validator._fast is None
    assert validator.usable


def test_formats_are_checked_only_when_asked() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    assert SchemaValidators().get(schema).is_valid({"email": "nope"})
    strict = SchemaValidators(check_formats=True).get(schema)
    assert not strict.is_valid({"email": "nope"})
    assert strict.is_valid({"email": "a@b.example"})


def test_messages_come_from_jsonschema_and_name_the_field() -> None:
    validator = SchemaValidators().get(SCHEMAS[1])
    assert describe_errors(validator, {"a": 1, "b": 2}) is None
    message = describe_errors(validator, {"a": "x", "b": 2.5, "z": 1})
    assert message is not None
    assert "at 'a': 'x' is not of type 'number'" in message
    assert "at 'b'" in message
    assert "'z' was unexpected" in message


def test_tuples_count_as_arrays_like_on_the_wire() -> None:
    validator = SchemaValidators().get(SCHEMAS[4])
    assert validator.is_valid({"tags": ("a", "b")})
    assert describe_errors(validator, {"tags": ("a", "b")}) is None


def test_a_broken_schema_disables_validation_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    validator = SchemaValidators().get({"type": "object", "properties": {"a": {"type": "no-such-type"}}})
    with caplog.at_level("WARNING", logger="syncmcp.validation"):
        assert validator.is_valid({"a": 1})
    assert "unusable JSON schema" in caplog.text


def test_json_equality_separates_booleans_from_numbers() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal([1, True], [1, 1])
    assert json_equal({"a": [1, 2]}, {"a": (1, 2.0)})
    assert not json_equal("1", 1)


def test_defaults_fill_only_missing_top_level_fields() -> None:
    schema = {"properties": {"a": {"default": 1}, "b": {"default": 2}, "c": {"type": "string"}}}
    assert apply_defaults(schema, {"b": 5}) == {"b": 5, "a": 1}


def test_a_typical_session_never_imports_jsonschema() -> None:
    """Flat schemas take the fast path: a script calling tools pays no jsonschema import."""
    import subprocess
    import sys

    from .conftest import ROOT, SCRIPTED

    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import syncmcp
with syncmcp.connect(sys.executable, ["-u", {str(SCRIPTED)!r}]) as session:
    assert session.call_tool("add", {{"a": 1, "b": 2}}).text == "3"
    assert session.call_tool("structured", {{"value": 4}}).structured_content == {{"value": 4}}
print("jsonschema" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "False"


def test_the_validator_cache_is_bounded_and_reuses_equal_schemas() -> None:
    validators = SchemaValidators()
    first = validators.get({"type": "object", "required": ["a"]})
    again = validators.get({"type": "object", "required": ["a"]})  # a new, equal object (a re-listing)
    assert again is first
    for index in range(SchemaValidators.LIMIT + 50):
        validators.get({"type": "object", "required": [f"field{index}"]})
    assert len(validators) == SchemaValidators.LIMIT
