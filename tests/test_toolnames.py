"""Qualified tool names and filters: the seed's unit cases and codex-manager.md §5/§6 vectors."""

from __future__ import annotations

import hashlib
import logging
import random
import re

import pytest

from syncmcp import Tool, ToolFilter, ToolInfo, qualify_tool_names
from syncmcp._toolnames import filter_tools, qualified_names, sanitize_tool_name

LONG_1 = "extremely_lengthy_function_name_that_absolutely_surpasses_all_reasonable_limits"
LONG_2 = "yet_another_extremely_lengthy_function_name_that_absolutely_surpasses_all_reasonable_limits"
VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def info(server: str, tool: str) -> ToolInfo:
    return ToolInfo(server, tool, Tool(tool, f"Test tool: {tool}"), f"{server}__{tool}")


# ----------------------------------------------------------------------------- the seed's cases


def test_qualify_tools_short_non_duplicated_names() -> None:
    assert qualify_tool_names([("server1", "tool1"), ("server1", "tool2")]) == {
        "server1__tool1": ("server1", "tool1"),
        "server1__tool2": ("server1", "tool2"),
    }
    assert set(qualify_tool_names([("server1", "tool1"), ("server1", "tool2")], prefix="mcp")) == {
        "mcp__server1__tool1",
        "mcp__server1__tool2",
    }


def test_qualify_tools_duplicated_names_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="syncmcp.manager"):
        names = qualify_tool_names([("server1", "duplicate_tool"), ("server1", "duplicate_tool")], prefix="mcp")
    assert names == {"mcp__server1__duplicate_tool": ("server1", "duplicate_tool")}
    assert "skipping duplicated tool mcp__server1__duplicate_tool" in caplog.text


def test_qualify_tools_long_names_same_server() -> None:
    plain = sorted(qualify_tool_names([("my_server", LONG_1), ("my_server", LONG_2)]))
    assert plain == [
        "my_server__extremely_lena02e507efc5a9de88637e436690364fd4219e4ef",
        "my_server__yet_another_e1c3987bd9c50b826cbe1687966f79f0c602d19ca",
    ]
    prefixed = sorted(qualify_tool_names([("my_server", LONG_1), ("my_server", LONG_2)], prefix="mcp"))
    assert prefixed == [  # identical to Codex's unit test
        "mcp__my_server__extremel119a2b97664e41363932dc84de21e2ff1b93b3e9",
        "mcp__my_server__yet_anot419a82a89325c1b477274a41f8c65ea5f3a7f341",
    ]
    assert all(len(name) == 64 for name in plain + prefixed)


def test_qualify_tools_sanitizes_invalid_characters() -> None:
    names = qualify_tool_names([("server.one", "tool.two")], prefix="mcp")
    assert names == {"mcp__server_one__tool_two": ("server.one", "tool.two")}  # raw names kept for the call
    assert qualify_tool_names([("server.one", "tool.two")]) == {"server_one__tool_two": ("server.one", "tool.two")}


def test_tool_filter_allows_by_default() -> None:
    assert ToolFilter().allows("any")
    assert ToolFilter().allows_all


def test_tool_filter_applies_enabled_list() -> None:
    tool_filter = ToolFilter.from_lists(["allowed"])
    assert tool_filter.allows("allowed")
    assert not tool_filter.allows("denied")
    assert not ToolFilter.from_lists([]).allows("anything")  # an empty allow-list allows nothing


def test_tool_filter_applies_disabled_list() -> None:
    tool_filter = ToolFilter.from_lists(None, ["blocked"])
    assert not tool_filter.allows("blocked")
    assert tool_filter.allows("open")


def test_tool_filter_applies_enabled_then_disabled() -> None:
    tool_filter = ToolFilter.from_lists(["keep", "remove"], ["remove"])
    assert tool_filter.allows("keep")
    assert not tool_filter.allows("remove")
    assert not tool_filter.allows("unknown")


def test_filter_tools_applies_per_server_filters() -> None:
    server1 = filter_tools([info("server1", "tool_a"), info("server1", "tool_b")], ToolFilter.from_lists(["tool_a", "tool_b"], ["tool_b"]))
    server2 = filter_tools([info("server2", "tool_a")], ToolFilter.from_lists(None, ["tool_a"]))
    remaining = server1 + server2
    assert [(t.server, t.tool_name) for t in remaining] == [("server1", "tool_a")]


# ----------------------------------------------------------------------------- syncmcp's additions


def test_a_sanitising_collision_gets_the_sha1_form_instead_of_being_dropped() -> None:
    names = qualify_tool_names([("fs", "read.file"), ("fs", "read_file")])
    digest = hashlib.sha1(b"fs__read_file").hexdigest()
    assert names == {"fs__read_file": ("fs", "read.file"), "fs__read_file" + digest: ("fs", "read_file")}
    assert "fs__read_file3a82b88cf25cf51c2bf25b136779845870b53f8c" in names  # the spec's vector


def test_a_cross_server_collision_is_kept_too() -> None:
    # ("a", "b_.c") and ("a__b", "c") sanitise to the same name; the later one is hashed.
    names = qualified_names([("a", "b_.c"), ("a__b", "c")])
    assert names[0] == "a__b__c"
    assert names[1] == "a__b__c" + hashlib.sha1(b"a__b__c").hexdigest()


def test_non_ascii_letters_become_one_underscore_each() -> None:
    assert qualify_tool_names([("srv", "données")]) == {"srv__donn_es": ("srv", "données")}
    assert sanitize_tool_name("日本") == "__"
    assert sanitize_tool_name("") == "_"


def test_empty_names_still_produce_valid_names() -> None:
    names = qualified_names([("", ""), ("s", ""), ("", "t")])
    assert names == ["__", "s__", "__t"]
    assert all(VALID.match(name or "") for name in names)
    assert qualified_names([("", "")], prefix="mcp") == ["mcp____"]


def test_the_raw_name_is_hashed_so_truncation_stays_stable() -> None:
    raw = "my_server__" + LONG_1
    assert qualified_names([("my_server", LONG_1)])[0] == raw[:24] + hashlib.sha1(raw.encode()).hexdigest()


def test_every_generated_name_is_valid_for_the_responses_api() -> None:
    rng = random.Random(1234)
    alphabet = "abcXYZ019_-.: /é日"
    pairs = [("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))), "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))) for _ in range(500)]
    names = [name for name in qualified_names(pairs) if name is not None]
    assert all(VALID.match(name) for name in names)
    assert len(names) == len(set(names))


def test_result_depends_only_on_input_order() -> None:
    """The manager feeds servers in configuration order; the same order gives the same map,
    whatever happened before (the function keeps no state between calls)."""
    pairs = [("srv", f"tool.{i}") for i in range(20)] + [("srv", f"tool_{i}") for i in range(20)] + [("srv", LONG_1)] * 2
    expected = qualify_tool_names(pairs)
    for seed in range(5):
        shuffled = pairs[:]
        random.Random(seed).shuffle(shuffled)
        qualify_tool_names(shuffled)  # another order in between must not leak into the next call
        assert qualify_tool_names(pairs) == expected
    assert len(expected) == 41  # 20 dotted + 20 hashed twins + one long name (its duplicate skipped)


def test_tool_info_function_schema() -> None:
    tool = Tool("get.weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"}}})
    entry = ToolInfo("wx", "get.weather", tool, "wx__get_weather")
    assert entry.function_schema() == {
        "name": "wx__get_weather",
        "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    assert ToolInfo("s", "t", Tool("t"), "s__t").function_schema()["parameters"] == {"type": "object", "properties": {}}


@pytest.mark.parametrize("prefix", [None, "mcp"])
def test_prepared_groups_name_exactly_like_the_reference_algorithm(prefix: object) -> None:
    """build_tool_map (the manager's fast path) must agree with qualified_names on every input."""
    from syncmcp._toolnames import ToolGroup, build_tool_map

    rng = random.Random(99)
    pieces = ["read", "read.file", "read_file", "a", "a__b", "b_.c", "c", "données", LONG_1, LONG_2, "", "x-y", "x_y"]
    for _ in range(300):
        servers = rng.sample(["a", "a__b", "fs", "srv", "s"], rng.randint(1, 4))
        groups = [(server, [rng.choice(pieces) for _ in range(rng.randint(0, 6))]) for server in servers]
        pairs = [(server, tool) for server, tools in groups for tool in tools]
        expected = qualify_tool_names(pairs, prefix=prefix)  # type: ignore[arg-type]
        built = build_tool_map([ToolGroup(server, [Tool(t) for t in tools], prefix) for server, tools in groups])  # type: ignore[arg-type]
        assert {name: (info.server, info.tool_name) for name, info in built.items()} == expected
        assert all(info.qualified_name == name for name, info in built.items())
