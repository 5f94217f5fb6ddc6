"""Pure units of the server framework: schemas from type hints, docstrings, conversions, URI
templates, cursors, and tool definitions read from functions."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import pathlib
import sys
import uuid
from typing import Any, Dict, FrozenSet, List, Literal, Mapping, Optional, Sequence, Set, Tuple, TypedDict, Union

import pytest

from syncmcp._validation import Validator, describe_errors
from syncmcp.server import Context, Image, Server, ToolError, ToolResult, URITemplate
from syncmcp.server._docstrings import parse_docstring
from syncmcp.server._features import PromptDef, ToolDef, complete_values, plain_result, validate_tool_name
from syncmcp.server._pagination import CursorCodec
from syncmcp.server._schema import check_schema, coerce, object_schema, schema_for, to_jsonable

from .conftest import serve_in_process

try:
    from typing import Annotated, NotRequired  # type: ignore[attr-defined]
except ImportError:  # Python < 3.11
    from typing import Annotated

    NotRequired = None


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Point:
    """A point.

    Attributes:
        x: horizontal.
        y: vertical.
    """

    x: float
    y: float = 0.0


@dataclasses.dataclass
class Tree:
    value: int
    children: List[Tree] = dataclasses.field(default_factory=list)


class Movie(TypedDict):
    title: str
    year: int


class PartialMovie(TypedDict, total=False):
    title: str
    rating: float


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (type(None), {"type": "null"}),
        (Any, {}),
        (List[int], {"type": "array", "items": {"type": "integer"}}),
        (list, {"type": "array"}),
        (Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (Set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (FrozenSet[int], {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
        (Tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (
            Tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "minItems": 2,
                "maxItems": 2,
                "items": False,
            },
        ),
        (Dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (Mapping[str, Any], {"type": "object"}),
        (dict, {"type": "object"}),
        (Optional[int], {"type": ["integer", "null"]}),
        (Union[int, str], {"type": ["integer", "string"]}),
        (Optional[List[int]], {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, "x"], {"enum": [1, "x"]}),
        (Color, {"type": "string", "enum": ["red", "green"]}),
        (Level, {"type": "integer", "enum": [1, 2]}),
        (datetime.datetime, {"type": "string", "format": "date-time"}),
        (datetime.date, {"type": "string", "format": "date"}),
        (uuid.UUID, {"type": "string", "format": "uuid"}),
        (pathlib.Path, {"type": "string"}),
        (Annotated[int, "how many"], {"type": "integer", "description": "how many"}),
        (Annotated[int, {"minimum": 0}], {"type": "integer", "minimum": 0}),
        (
            Movie,
            {
                "type": "object",
                "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["title", "year"],
            },
        ),
        (PartialMovie, {"type": "object", "properties": {"title": {"type": "string"}, "rating": {"type": "number"}}}),
        (
            Point,
            {
                "type": "object",
                "properties": {
                    "x": {"type": "number", "description": "horizontal."},
                    "y": {"type": "number", "description": "vertical.", "default": 0.0},
                },
                "required": ["x"],
                "description": "A point.",
            },
        ),
    ],
)
def test_schema_for_maps_python_types_to_json_schema(annotation: Any, expected: Dict[str, Any]) -> None:
    assert schema_for(annotation) == expected
    check_schema(expected)  # derived schemas are valid JSON Schema (they are not checked at registration)


@pytest.mark.skipif(sys.version_info < (3, 10), reason="X | Y needs Python 3.10")
def test_pep604_unions_are_unions() -> None:
    assert schema_for(eval("int | None")) == {"type": ["integer", "null"]}


@pytest.mark.skipif(NotRequired is None, reason="typing.NotRequired needs Python 3.11")
def test_typeddict_not_required_keys_are_optional() -> None:
    class Item(TypedDict):
        name: str
        note: NotRequired[str]  # type: ignore[valid-type]

    assert schema_for(Item)["required"] == ["name"]


def test_a_recursive_dataclass_is_defined_once_and_referenced() -> None:
    schema = schema_for(Tree)
    assert schema["type"] == "object"  # the root stays an object schema
    assert schema["properties"]["children"] == {"type": "array", "items": {"$ref": "#/$defs/Tree"}}
    assert schema["$defs"]["Tree"]["properties"]["value"] == {"type": "integer"}
    validator = Validator(schema, True)
    assert describe_errors(validator, {"value": 1, "children": [{"value": 2, "children": []}]}) is None
    assert "is not of type 'integer'" in (describe_errors(validator, {"value": 1, "children": [{"value": "x"}]}) or "")


@pytest.mark.parametrize("annotation", [object.__class__, Dict[int, str], complex])
def test_types_without_a_json_form_are_refused(annotation: Any) -> None:
    with pytest.raises(TypeError):
        schema_for(annotation)


def test_object_schema_marks_required_fields_and_defaults() -> None:
    import inspect

    schema = object_schema(
        [("a", int, inspect.Parameter.empty, "first"), ("b", Color, Color.RED, None), ("c", str, object(), None)]
    )
    assert schema["required"] == ["a"]
    assert schema["properties"]["a"] == {"type": "integer", "description": "first"}
    assert schema["properties"]["b"]["default"] == "red"
    assert "default" not in schema["properties"]["c"]  # no JSON form: left out, still optional
    assert schema["additionalProperties"] is False


# ----------------------------------------------------------------------------------- docstrings


@pytest.mark.parametrize(
    ("doc", "description", "params"),
    [
        (None, "", {}),
        ("One line.", "One line.", {}),
        (
            """Summary.

            Details on
            two lines.

            Args:
                a: the first.
                b (int): the second,
                    continued.
                **extra: more.

            Returns:
                Something.
            """,
            "Summary.\n\nDetails on\ntwo lines.",
            {"a": "the first.", "b": "the second, continued.", "extra": "more."},
        ),
        ("Do it.\n\nParameters:\n    path: where.\nRaises:\n    OSError: never.", "Do it.", {"path": "where."}),
        (
            "Sphinx.\n\n:param x: the x\n    value.\n:param int y: the y.\n:returns: z",
            "Sphinx.",
            {"x": "the x value.", "y": "the y."},
        ),
        ("Data.\n\nAttributes:\n    name: the name.", "Data.", {"name": "the name."}),
    ],
)
def test_docstrings_give_a_description_and_parameter_texts(doc: Optional[str], description: str, params: Dict[str, str]) -> None:
    parsed = parse_docstring(doc)
    assert parsed.description == description
    assert parsed.params == params


# ----------------------------------------------------------------------------------- conversions


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        ("red", Color, Color.RED),
        (2, Level, Level.HIGH),
        (3, float, 3.0),
        ([1, 2], Tuple[int, ...], (1, 2)),
        ([1, "a"], Tuple[int, str], (1, "a")),
        ([1, 1, 2], Set[int], {1, 2}),
        ({"x": 1}, Point, Point(1, 0.0)),
        ([{"x": 1, "y": 2}], List[Point], [Point(1, 2)]),
        ({"a": {"x": 3}}, Dict[str, Point], {"a": Point(3)}),
        ({"value": 1, "children": [{"value": 2}]}, Tree, Tree(1, [Tree(2)])),
        (None, Optional[Point], None),
        ({"x": 5}, Optional[Point], Point(5)),
        ("2026-07-28", datetime.date, datetime.date(2026, 7, 28)),
        ("2026-07-28T10:00:00Z", datetime.datetime, datetime.datetime(2026, 7, 28, 10, tzinfo=datetime.timezone.utc)),
        ("/tmp/x", pathlib.Path, pathlib.Path("/tmp/x")),
        ("x", Any, "x"),
        ({"title": "A", "year": 1}, Movie, {"title": "A", "year": 1}),
    ],
)
def test_coerce_builds_the_annotated_python_value(value: Any, annotation: Any, expected: Any) -> None:
    assert coerce(value, annotation) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Point(1, 2), {"x": 1, "y": 2}),
        ({"c": Color.GREEN, "d": datetime.date(2026, 1, 2)}, {"c": "green", "d": "2026-01-02"}),
        ((1, {2}), [1, [2]]),
        (pathlib.Path("/a"), "/a"),
        ({Color.RED: 1}, {"red": 1}),
    ],
)
def test_to_jsonable_converts_return_values(value: Any, expected: Any) -> None:
    assert to_jsonable(value) == expected


@pytest.mark.parametrize("value", [float("nan"), {1: "a"}, object()])
def test_values_without_a_json_form_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        to_jsonable(value)


# ----------------------------------------------------------------------------------- validation


def test_validation_names_every_violation_and_where() -> None:
    schema = object_schema([("n", Annotated[int, {"minimum": 0}], __import__("inspect").Parameter.empty, None)])
    message = describe_errors(Validator(schema, True), {"n": -1, "extra": True})
    assert message is not None
    assert "at 'n': -1 is less than the minimum of 0" in message
    assert "'extra' was unexpected" in message


def test_a_tool_with_a_network_ref_never_fetches_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``$ref`` to a URL is not resolved (validation is skipped with a warning), and no socket is opened."""
    import socket

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("validation tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    server = Server("refs")

    @server.tool(input_schema={"type": "object", "properties": {"x": {"$ref": "https://example.invalid/schema.json"}}})
    def echo(x: Any = None) -> str:
        return "ran"

    with serve_in_process(server) as session:
        assert session.call_tool("echo", {"x": 1}).text == "ran"


def test_an_invalid_schema_fails_when_checked() -> None:
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        check_schema({"type": "no-such-type"})

    def count(n: int) -> int:
        return n

    with pytest.raises(ValueError, match="invalid JSON Schema"):
        Server("bad").tool(input_schema={"type": "object", "properties": {"n": {"type": "no-such-type"}}})(count)


# ----------------------------------------------------------------------------------- URI templates


@pytest.mark.parametrize(
    ("template", "uri", "expected"),
    [
        ("notes://{id}", "notes://42", {"id": "42"}),
        ("notes://{id}", "notes://a/b", None),
        ("file://{+path}", "file:///tmp/a%20b.txt", {"path": "/tmp/a b.txt"}),
        (
            "repo://{owner}/{name}{/segments*}",
            "repo://me/app/src/main.py",
            {"owner": "me", "name": "app", "segments": ["src", "main.py"]},
        ),
        ("search://x{?q,page}", "search://x?page=2&q=tea", {"q": "tea", "page": "2"}),
        ("search://x{?q,page}", "search://x", {}),
        ("pair://{a,b}", "pair://1,2", {"a": "1", "b": "2"}),
        ("doc://{name}{.ext}", "doc://readme.md", {"name": "readme", "ext": "md"}),
        ("other://{id}", "notes://1", None),
    ],
)
def test_uri_templates_match_uris_and_extract_variables(template: str, uri: str, expected: Optional[Dict[str, Any]]) -> None:
    assert URITemplate(template).match(uri) == expected


@pytest.mark.parametrize("template", ["x://{a", "x://{}", "x://{a}/{a}", "x://{a b}"])
def test_malformed_uri_templates_are_refused(template: str) -> None:
    with pytest.raises(ValueError):
        URITemplate(template)


# ----------------------------------------------------------------------------------- cursors


def test_cursors_page_through_and_refuse_forgeries() -> None:
    codec = CursorCodec()
    items, cursor = codec.page("tools", iter(range(5)), None, 2)
    seen = list(items)
    while cursor is not None:
        items, cursor = codec.page("tools", iter(range(5)), cursor, 2)
        seen.extend(items)
    assert seen == [0, 1, 2, 3, 4]
    issued = codec.encode("tools", 2)
    for bad in ["", "x" * 300, "bm90IG1pbmU", issued[:-2] + "AA", 17]:
        with pytest.raises(ValueError, match="Invalid cursor"):
            codec.decode("tools", bad)
    with pytest.raises(ValueError, match="another list"):
        codec.decode("prompts", issued)
    with pytest.raises(ValueError):
        CursorCodec().decode("tools", issued)  # another server process


# ----------------------------------------------------------------------------------- tool definitions


def test_a_tool_reads_its_schema_from_hints_and_docstring() -> None:
    def search(query: str, limit: int = 10, tags: Optional[List[str]] = None, *, ctx: Context) -> List[str]:
        """Search the notes.

        Args:
            query: words to look for.
            limit: most results.
            tags: only notes with these tags.
        """
        return []

    tool = ToolDef.from_function(search, annotations={"readOnlyHint": True})
    wire = tool.to_dict()
    assert wire["name"] == "search"
    assert wire["description"] == "Search the notes."
    assert wire["inputSchema"] == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "words to look for."},
            "limit": {"type": "integer", "description": "most results.", "default": 10},
            "tags": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "description": "only notes with these tags.",
                "default": None,
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }
    assert "outputSchema" not in wire
    assert wire["annotations"] == {"readOnlyHint": True}
    assert tool.wants_context


@pytest.mark.parametrize(
    ("returns", "value", "structured", "output_schema_type"),
    [
        (Point, Point(1, 2), {"x": 1, "y": 2}, "object"),
        (Movie, {"title": "A", "year": 1}, {"title": "A", "year": 1}, "object"),
        (Dict[str, int], {"a": 1}, {"a": 1}, "object"),
    ],
)
def test_structured_returns_get_an_output_schema_and_a_json_mirror(
    returns: Any, value: Any, structured: Any, output_schema_type: str
) -> None:
    def fn() -> Any:
        return value

    fn.__annotations__["return"] = returns
    tool = ToolDef.from_function(fn)
    assert tool.to_dict()["outputSchema"]["type"] == output_schema_type
    result = tool.invoke({}, None)
    assert result["structuredContent"] == structured
    assert result["content"][0]["type"] == "text"
    assert __import__("json").loads(result["content"][0]["text"]) == structured


def test_structured_output_true_wraps_a_primitive() -> None:
    def count() -> int:
        return 3

    tool = ToolDef.from_function(count, structured_output=True)
    assert tool.to_dict()["outputSchema"] == {
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
    }
    assert tool.invoke({}, None) == {"content": [{"type": "text", "text": "3"}], "structuredContent": {"result": 3}}


def test_a_result_breaking_the_declared_output_schema_is_a_tool_error() -> None:
    def broken() -> Point:
        return {"x": "not a number"}  # type: ignore[return-value]

    result = ToolDef.from_function(broken).invoke({}, None)
    assert result["isError"] is True
    assert "does not match the tool's output schema" in result["content"][0]["text"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"content": []}),
        ("hi", {"content": [{"type": "text", "text": "hi"}]}),
        (3, {"content": [{"type": "text", "text": "3"}]}),
        ([1, 2], {"content": [{"type": "text", "text": "[1, 2]"}]}),
        ({"a": 1}, {"content": [{"type": "text", "text": '{"a": 1}'}], "structuredContent": {"a": 1}}),
        (
            ["see", Image(b"GIF", "image/gif")],
            {"content": [{"type": "text", "text": "see"}, {"type": "image", "data": "R0lG", "mimeType": "image/gif"}]},
        ),
        (ToolResult("bad", is_error=True), {"content": [{"type": "text", "text": "bad"}], "isError": True}),
    ],
)
def test_plain_returns_become_content_blocks(value: Any, expected: Dict[str, Any]) -> None:
    converted = value.to_dict() if isinstance(value, ToolResult) else plain_result(value)
    assert converted == expected


def test_arguments_are_validated_then_converted() -> None:
    seen = []

    def paint(color: Color, where: Point) -> str:
        seen.append((color, where))
        return "ok"

    tool = ToolDef.from_function(paint)
    assert tool.invoke({"color": "red", "where": {"x": 1}}, None)["content"][0]["text"] == "ok"
    assert seen == [(Color.RED, Point(1, 0.0))]
    bad = tool.invoke({"color": "blue"}, None)
    assert bad["isError"] is True
    assert "Invalid arguments for tool 'paint'" in bad["content"][0]["text"]
    assert "'blue' is not one of ['red', 'green']" in bad["content"][0]["text"]
    assert "'where' is a required property" in bad["content"][0]["text"]


def test_tool_failures_are_error_results_with_the_message() -> None:
    def refuse() -> str:
        raise ToolError("not today")

    def crash() -> str:
        raise KeyError("missing")

    assert ToolDef.from_function(refuse).invoke({}, None) == {"content": [{"type": "text", "text": "not today"}], "isError": True}
    crashed = ToolDef.from_function(crash).invoke({}, None)
    assert crashed["isError"] is True and "KeyError" in crashed["content"][0]["text"]


@pytest.mark.parametrize("name", ["ok", "files.read", "a-b_c.D9", "x" * 128])
def test_valid_tool_names(name: str) -> None:
    assert validate_tool_name(name) == name


@pytest.mark.parametrize("name", ["", "has space", "x" * 129, "semi;colon", "é"])
def test_invalid_tool_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid tool name"):
        validate_tool_name(name)


class Opaque:
    pass


def test_hand_written_schemas_are_checked_at_registration() -> None:
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        ToolDef.from_function(lambda: "x", name="bad", input_schema={"type": "object", "properties": {"a": {"type": "nope"}}})
    with pytest.raises(ValueError, match="must be an object schema"):
        ToolDef.from_function(lambda: "x", name="bad", input_schema={"type": "string"})


def test_star_args_and_untyped_objects_are_refused_at_registration() -> None:
    def star(*names: str) -> str:
        return ""

    def opaque(value: Opaque) -> str:
        return ""

    with pytest.raises(TypeError, match=r"\*names is not supported"):
        ToolDef.from_function(star)
    with pytest.raises(TypeError, match="no JSON Schema"):
        ToolDef.from_function(opaque)


def test_prompt_arguments_are_strings_converted_to_their_types() -> None:
    def plan(days: int, style: Literal["short", "long"] = "short", verbose: bool = False) -> str:
        """Plan a trip.

        Args:
            days: how long.
        """
        return f"{days} {style} {verbose}"

    prompt = PromptDef.from_function(plan)
    assert prompt.to_dict()["arguments"] == [
        {"name": "days", "description": "how long.", "required": True},
        {"name": "style", "required": False},
        {"name": "verbose", "required": False},
    ]
    assert prompt.completions == {"style": ["short", "long"], "verbose": ["true", "false"]}
    rendered = prompt.render({"days": "3", "verbose": "yes"}, None)
    assert rendered["messages"] == [{"role": "user", "content": {"type": "text", "text": "3 short True"}}]
    from syncmcp import JSONRPCError

    for arguments, message in [
        ({}, "Missing required argument 'days'"),
        ({"days": "x"}, "is not a valid int"),
        ({"days": "1", "zzz": "1"}, "has no argument 'zzz'"),
    ]:
        with pytest.raises(JSONRPCError, match=message) as caught:
            prompt.render(arguments, None)
        assert caught.value.code == -32602


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        (["Engineering", "Sales", "engines"], "eng", ["Engineering", "engines"]),
        (["a"], "", ["a"]),
        (lambda value: [value * 2], "ab", ["abab"]),
        (lambda value, context: [context.get("x", "?") + value], "1", ["?1"]),
    ],
)
def test_completion_sources_filter_fixed_values_or_are_called(source: Any, value: str, expected: List[str]) -> None:
    assert complete_values(source, value, {}) == expected


# ----------------------------------------------------------------------------------- documentation


SERVER_MODULES = sorted(
    "syncmcp."
    + ".".join(path.relative_to(pathlib.Path(__import__("syncmcp").__file__).parent).with_suffix("").parts).replace(
        ".__init__", ""
    )
    for path in (pathlib.Path(__import__("syncmcp").__file__).parent / "server").rglob("*.py")
)


@pytest.mark.parametrize("module_name", SERVER_MODULES)
def test_the_documented_examples_run(module_name: str) -> None:
    """Every ``>>>`` example in the server package's docstrings runs and shows what it claims."""
    import doctest
    import importlib

    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert result.failed == 0
