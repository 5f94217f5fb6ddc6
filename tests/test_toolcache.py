"""The on-disk tool cache: round trip, key, TTL, corruption, atomic writes from several processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncmcp import ServerConfig, ToolCache
from syncmcp._toolcache import tool_cache_key

TOOLS = [{"name": "echo", "description": "Echo", "inputSchema": {"type": "object"}}, {"name": "add", "inputSchema": {}}]


def test_round_trip_keeps_the_raw_tools(tmp_path: Path) -> None:
    cache = ToolCache(tmp_path)
    key = tool_cache_key(ServerConfig(command="srv"))
    assert cache.load(key) is None
    assert cache.store(key, TOOLS, server="srv")
    assert cache.load(key) == TOOLS
    document = json.loads(cache.path_for(key).read_text())
    assert (document["format"], document["key"], document["server"]) == (1, key, "srv")
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []  # no temporary left behind


def test_key_covers_what_decides_the_server_and_never_stores_env_values(tmp_path: Path) -> None:
    base = ServerConfig(command="npx", args=["-y", "pkg"], env={"TOKEN": "s3cret"})
    assert tool_cache_key(base) == tool_cache_key(ServerConfig(command="npx", args=["-y", "pkg"], env={"TOKEN": "s3cret"}, tool_timeout_sec=1))
    for other in (
        ServerConfig(command="npx", args=["-y", "pkg2"], env={"TOKEN": "s3cret"}),
        ServerConfig(command="npx", args=["-y", "pkg"], env={"TOKEN": "other"}),
        ServerConfig(command="npx", args=["-y", "pkg"], env={"TOKEN": "s3cret"}, env_vars=["HOME"]),
        ServerConfig(command="npx", args=["-y", "pkg"], env={"TOKEN": "s3cret"}, cwd="/tmp"),
        ServerConfig(url="https://a/mcp"),
    ):
        assert tool_cache_key(other) != tool_cache_key(base)
    cache = ToolCache(tmp_path)
    cache.store(tool_cache_key(base), TOOLS)
    assert b"s3cret" not in cache.path_for(tool_cache_key(base)).read_bytes()


def test_stale_entries_are_ignored(tmp_path: Path) -> None:
    cache = ToolCache(tmp_path, ttl=3600)
    key = "a" * 40
    cache.store(key, TOOLS)
    path = cache.path_for(key)
    document = json.loads(path.read_text())
    document["written_at"] = time.time() - 3601
    path.write_text(json.dumps(document))
    assert cache.load(key) is None
    document["written_at"] = time.time() + 3600  # a clock far ahead: not trusted either
    path.write_text(json.dumps(document))
    assert cache.load(key) is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"[]",
        b'{"format": 2, "key": "KEY", "written_at": 0, "tools": []}',
        b'{"format": 1, "key": "other", "written_at": NOW, "tools": []}',
        b'{"format": 1, "key": "KEY", "written_at": "yesterday", "tools": []}',
        b'{"format": 1, "key": "KEY", "written_at": NOW, "tools": [{"description": "no name"}]}',
        b'{"format": 1, "key": "KEY", "written_at": NOW, "tools": {"name": "x"}}',
        b"\xff\xfe garbage",
    ],
)
def test_corrupt_or_foreign_files_are_ignored_never_fatal(tmp_path: Path, content: bytes) -> None:
    cache = ToolCache(tmp_path)
    key = "KEY"
    cache.path_for(key).write_bytes(content.replace(b"NOW", str(time.time()).encode()))
    assert cache.load(key) is None
    assert cache.store(key, TOOLS)  # and a good write replaces it
    assert cache.load(key) == TOOLS


def test_an_unwritable_directory_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ToolCache(blocker / "cache")
    assert cache.store("k", TOOLS) is False
    assert cache.load("k") is None


def test_clear_removes_the_entries(tmp_path: Path) -> None:
    cache = ToolCache(tmp_path)
    cache.store("k1", TOOLS)
    cache.store("k2", TOOLS)
    assert cache.clear() == 2
    assert cache.load("k1") is None


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl"):
        ToolCache(ttl=0)


WRITER = """
import sys
from syncmcp import ToolCache
cache = ToolCache(sys.argv[1])
tools = [{"name": f"tool_{sys.argv[2]}_{i}", "description": "x" * 2000} for i in range(200)]
for _ in range(15):
    assert cache.store("shared", tools)
    loaded = cache.load("shared")
    assert loaded is not None and len(loaded) == 200, "a reader saw a partial file"
"""


def test_several_processes_write_the_same_entry_safely(tmp_path: Path) -> None:
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)]) for n in range(4)]
    codes = [process.wait(60) for process in processes]
    assert codes == [0, 0, 0, 0]
    loaded = ToolCache(tmp_path).load("shared")
    assert loaded is not None and len(loaded) == 200
    assert len({tool["name"].split("_")[1] for tool in loaded}) == 1  # one writer's list, whole
