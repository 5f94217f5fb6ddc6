"""The command line's pure parts, in process: the TOML editor, overrides, log settings, arguments,
exit statuses and output formatting. The commands themselves are tested through the real entry
point in test_cli.py."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from syncmcp import ConfigError, RemoteError, RequestTimeout, SchemaValidationError, ServerUnavailableError, UnknownToolError
from syncmcp.cli import _configfile, _exits, _logsetup, _output, _progress, _tomledit, _use
from syncmcp.cli._exits import CLIError

RICH = """\
# syncmcp configuration: hand-written, with comments everywhere
model = "o3"   # not ours

[profiles.work]   # a table before the servers
approval = "never"
when = 1979-05-27 07:32:00
matrix = [
  [1, 2],  # a comment inside an array
  ["x", "]"],
]

# The file server ---------------------------------------------------------
[mcp_servers.files]
command = "npx"
args = [
  "-y",
  "@modelcontextprotocol/server-filesystem",   # the package
  '''/srv/"data"''',
]
disabled_tools = ["write_file"] # no writes

[mcp_servers.files.env]
TOKEN = "a#b"  # not a comment inside the string

# the clock
[mcp_servers."time"]
command = 'uvx'
args = ["mcp-server-time"]
# trailing note about time

[other]
multi = \"\"\"
[mcp_servers.fake]
command = "x"
\"\"\"
"""


def loads(text: str) -> dict:
    return _tomledit.parse_toml(text)


# ----------------------------------------------------------------------------- TOML editor


def test_adding_a_server_changes_nothing_else_and_removing_it_restores_the_bytes() -> None:
    entry = {"command": "python", "args": ["-m", "demo"], "env": {"API KEY": 'q"uote\\'}}
    added = _tomledit.edit_server(RICH, "demo", entry)
    assert loads(added)["mcp_servers"]["demo"] == entry
    # One block after the last [mcp_servers.*] table (and its trailing comment); the rest is the old text.
    block = "\n" + _tomledit.render_server_table("demo", entry)
    assert added.index(block) == RICH.index("\n[other]") and added.replace(block, "", 1) == RICH
    assert _tomledit.edit_server(added, "demo", None) == RICH


def test_appending_to_a_file_without_servers_and_removing_round_trips() -> None:
    text = "# only settings\nmodel = 'o3'\n"
    added = _tomledit.edit_server(text, "t", {"command": "x"})
    assert added == text + '\n[mcp_servers.t]\ncommand = "x"\n'
    assert _tomledit.edit_server(added, "t", None) == text
    assert _tomledit.edit_server("", "t", {"command": "x"}) == '[mcp_servers.t]\ncommand = "x"\n'
    no_newline = "a = 1"
    assert loads(_tomledit.edit_server(no_newline, "t", {"command": "x"})) == {"a": 1, "mcp_servers": {"t": {"command": "x"}}}


def test_removing_a_server_takes_its_sub_tables_and_comments_and_nothing_else() -> None:
    removed = _tomledit.edit_server(RICH, "files", None)
    document = loads(removed)
    assert "files" not in document["mcp_servers"] and document["mcp_servers"]["time"]["command"] == "uvx"
    assert "# The file server" not in removed and "TOKEN" not in removed
    assert removed.startswith(RICH[: RICH.index("# The file server")].rstrip("\n"))
    assert removed.endswith(RICH[RICH.index("# the clock") :])
    assert loads(removed)["other"] == loads(RICH)["other"]  # the look-alike table inside a string is untouched


def test_replacing_a_server_keeps_its_place_and_the_comment_above_it() -> None:
    replaced = _tomledit.edit_server(RICH, "time", {"command": "uvx", "args": ["mcp-server-time", "--local-timezone", "UTC"]})
    # Only the key whose value changes is rewritten; the header and the unchanged key keep their text.
    assert replaced == RICH.replace('args = ["mcp-server-time"]\n', 'args = ["mcp-server-time", "--local-timezone", "UTC"]\n')
    expected = loads(RICH)
    expected["mcp_servers"]["time"] = {"command": "uvx", "args": ["mcp-server-time", "--local-timezone", "UTC"]}
    assert loads(replaced) == expected
    # Replacing a server with sub-tables drops them, with their blank line.
    files = _tomledit.edit_server(RICH, "files", {"command": "npx"})
    assert "TOKEN" not in files and loads(files)["mcp_servers"]["files"] == {"command": "npx"}
    assert files.replace("# The file server", "").count("\n\n") == RICH.replace("# The file server", "").count("\n\n") - 1


def test_replacing_keys_keeps_the_comments_of_the_others() -> None:
    entry = {"command": "node", "args": ["x"], "disabled_tools": ["write_file"], "env": {"TOKEN": "a#b"}, "required": True}
    replaced = _tomledit.edit_server(RICH, "files", entry)
    start = replaced.index("# The file server")
    assert replaced[start : replaced.index("# the clock")] == (
        "# The file server ---------------------------------------------------------\n"
        "[mcp_servers.files]\n"
        'command = "node"\n'
        'args = ["x"]\n'
        'disabled_tools = ["write_file"] # no writes\n'
        "required = true\n"
        "\n"
        "[mcp_servers.files.env]\n"
        'TOKEN = "a#b"  # not a comment inside the string\n'
        "\n"
    )
    assert replaced[:start] == RICH[:start] and replaced.endswith(RICH[RICH.index("# the clock") :])
    # A server that is not one [mcp_servers.NAME] table is written anew, in the same place.
    inline = '[mcp_servers]\na = { command = "x", args = ["1"] }  # first\n'
    assert _tomledit.edit_server(inline, "a", {"command": "x"}) == '[mcp_servers]\na = { command = "x" }\n'


_FUZZ_TOP = [
    'model = "o3"',
    "# a comment",
    "",
    'x = """\n[mcp_servers.q]\ncommand = "no"\n"""',
    "lit = '''\n[mcp_servers.fake]\n'''",
    "arr = [\n  1, # c\n  2,\n]",
    "d = 1979-05-27T07:32:00Z",
    "n = nan",
]
_FUZZ_TABLES = [
    '[mcp_servers.a]\ncommand = "a"',
    '[mcp_servers.b]\ncommand = "b" # trailing\nargs = ["x"]',
    '# about c\n[mcp_servers.c]\ncommand = "c"',
    '[mcp_servers."q.d"]\ncommand = "qd"',
    '[profile]\nname = "p"',
    "# profile comment\n[profiles.x]\nm = 1",
    "[[arr_t]]\nv = 1",
    "[[arr_t]]\nv = 2",
    '[mcp_servers.a.env]\nK = "v"',
    '[mcp_servers.e]\ncommand = "e"\n\n# stray',
    '[mcp_servers]\nf = { command = "f" }',
    '  [mcp_servers.g]  # hdr\n  command = "g"',
]


def _fuzzed_files(seed: int, count: int) -> list:
    """Hand-written-looking TOML files: settings, comments, tricky strings, server and other tables,
    glued or separated by blank lines, with or without a final line ending, LF or CRLF."""
    import random

    chance = random.Random(seed)
    files = []
    while len(files) < count:
        top = chance.sample(_FUZZ_TOP, chance.randint(0, 4))
        if chance.random() < 0.2:
            top.append('mcp_servers.dot.command = "d"')
        text = chance.choice(["\n", "\n\n"]).join(top + chance.sample(_FUZZ_TABLES, chance.randint(0, 6)))
        if chance.random() < 0.8:
            text += "\n"
        if chance.random() < 0.2:
            text = text.replace("\n", "\r\n")
        try:
            loads(text)
        except _tomledit.TomlEditError:
            continue  # e.g. [mcp_servers] after [mcp_servers.a]: not TOML
        files.append(text)
    return files


@pytest.mark.parametrize("seed", range(4))
def test_adding_then_removing_a_server_gives_back_the_original_bytes(seed: int) -> None:
    entry = {"command": "z", "args": ["1"]}
    for text in _fuzzed_files(seed, 400):
        added = _tomledit.edit_server(text, "zz", entry)
        assert loads(added)["mcp_servers"]["zz"] == entry
        assert ("\r\n" in added) == ("\r\n" in text), repr(text)
        assert added.endswith("\n") == (text.endswith("\n") or not text), repr(text)
        assert _tomledit.edit_server(added, "zz", None) == text, repr(text)


@pytest.mark.parametrize("seed", range(6, 8))
def test_replacing_some_of_a_servers_keys_works_on_every_layout(seed: int) -> None:
    """What add does to an existing server: a new command, maybe new args or env, the rest kept."""
    import random

    chance = random.Random(seed)
    for text in _fuzzed_files(seed, 300):
        for name, old in loads(text).get("mcp_servers", {}).items():
            entry = {**old, "command": "new"}
            if chance.random() < 0.5:
                entry["args"] = ["n"]
            if chance.random() < 0.3:
                entry["env"] = {"A": "b"}
            if chance.random() < 0.3:
                entry.pop("env", None)
            replaced = _tomledit.edit_server(text, name, entry)  # refuses rather than write something else
            assert loads(replaced)["mcp_servers"][name] == entry
            assert replaced.endswith("\n") == text.endswith("\n"), repr(text)


def _comments(text: str) -> list:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


@pytest.mark.parametrize("seed", range(4, 6))
def test_removing_a_server_keeps_every_comment_that_is_not_its_own(seed: int) -> None:
    """A server's own comments are those inside its tables and those directly above its header
    or key; comments heading the file are never a server's."""
    for text in _fuzzed_files(seed, 200):
        for name in ("a", "b", "c", "e", "f", "g", "dot", "q.d"):
            removed = _tomledit.edit_server(text, name, None)
            lost = [comment for comment in _comments(text) if comment not in _comments(removed)]
            own = {"a": [], "b": [], "c": ["# about c"], "e": ["# stray"], "g": ["# hdr"]}.get(name, [])
            lines = text.splitlines()
            for comment in lost:
                if comment in own:
                    continue
                # Otherwise it sat directly above the removed server, after some other text.
                where = next(k for k, line in enumerate(lines) if line.strip() == comment)
                below = next(line for line in lines[where:] if not line.strip().startswith("#"))
                assert f"mcp_servers.{name}" in below or f'mcp_servers."{name}"' in below or below.startswith(f"{name} ="), (
                    name,
                    comment,
                    text,
                )
                assert any(line.strip() and not line.strip().startswith("#") for line in lines[:where]), (name, comment, text)


def test_the_blank_lines_around_a_new_server_follow_the_file() -> None:
    glued = '[mcp_servers.a]\ncommand = "a"\n[profile]\nname = "p"\n'
    added = _tomledit.edit_server(glued, "b", {"command": "b"})
    assert added == '[mcp_servers.a]\ncommand = "a"\n[mcp_servers.b]\ncommand = "b"\n\n[profile]\nname = "p"\n'
    assert _tomledit.edit_server(added, "b", None) == glued
    spaced = '[mcp_servers.a]\ncommand = "a"\n\n[profile]\nname = "p"\n'
    added = _tomledit.edit_server(spaced, "b", {"command": "b"})
    assert added == '[mcp_servers.a]\ncommand = "a"\n\n[mcp_servers.b]\ncommand = "b"\n\n[profile]\nname = "p"\n'
    assert _tomledit.edit_server(added, "b", None) == spaced
    no_final_newline = 'model = "o3"'
    added = _tomledit.edit_server(no_final_newline, "t", {"command": "x"})
    assert added == 'model = "o3"\n\n[mcp_servers.t]\ncommand = "x"'
    assert _tomledit.edit_server(added, "t", None) == no_final_newline


def test_removing_the_only_server_keeps_the_files_header_comment() -> None:
    text = "# Managed by dotfiles - do not lose this header\n[mcp_servers.fs]\ncommand = 'npx'\n"
    assert _tomledit.edit_server(text, "fs", None) == "# Managed by dotfiles - do not lose this header\n"
    # A comment directly above a table that follows other text is that table's.
    text = "model = 'o3'\n# the file server\n[mcp_servers.fs]\ncommand = 'npx'\n"
    assert _tomledit.edit_server(text, "fs", None) == "model = 'o3'\n"


def test_servers_are_edited_in_the_section_the_file_uses() -> None:
    for section in ("mcpServers", "servers"):
        text = f"[{section}.foo]\ncommand = 'x'\n"
        added = _tomledit.edit_server(text, "bar", {"command": "y"}, section=section)
        assert added == text + f'\n[{section}.bar]\ncommand = "y"\n'
        assert _tomledit.edit_server(text, "foo", None, section=section) == ""


def test_an_edit_that_would_not_happen_is_refused_instead_of_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the editor ever leave the server where it was, remove must fail, not say it removed it."""
    path = tmp_path / "config.toml"
    path.write_text("[mcp_servers.a]\ncommand = 'x'\n")
    before = path.read_bytes()
    monkeypatch.setattr(_configfile, "edit_server", lambda text, name, entry, section: text)
    with pytest.raises(CLIError, match="the edit did not remove MCP server 'a' in \\[mcp_servers\\]; the file was not changed"):
        _configfile.edit_config(path, "a", None)
    assert path.read_bytes() == before


def test_servers_written_as_keys_under_mcp_servers_stay_inline() -> None:
    text = '[mcp_servers]\na = { command = "x" }  # first\nb.command = "y"\nb.args = ["1"]\n\n[z]\nk = 1\n'
    replaced = _tomledit.edit_server(text, "a", {"command": "new"})
    assert replaced.startswith('[mcp_servers]\na = { command = "new" }\nb.command')
    removed = _tomledit.edit_server(text, "b", None)
    assert removed == '[mcp_servers]\na = { command = "x" }  # first\n\n[z]\nk = 1\n'
    dotted = 'mcp_servers.a.command = "x"\nother = 1\n'
    assert loads(_tomledit.edit_server(dotted, "a", {"command": "y"})) == {"mcp_servers": {"a": {"command": "y"}}, "other": 1}


def test_a_file_with_nan_and_dates_elsewhere_is_still_editable() -> None:
    text = "limit = nan\nsince = 2024-01-02\n"
    added = _tomledit.edit_server(text, "a", {"command": "x"})
    assert added.startswith(text) and _tomledit.edit_server(added, "a", None) == text


def test_crlf_files_keep_their_line_endings() -> None:
    text = '# c\r\n[mcp_servers.a]\r\ncommand = "x"\r\n'
    added = _tomledit.edit_server(text, "b", {"command": "y"})
    assert "\n" not in added.replace("\r\n", "")
    assert _tomledit.edit_server(added, "b", None) == text


def test_an_inline_mcp_servers_table_and_invalid_toml_are_refused() -> None:
    with pytest.raises(_tomledit.TomlEditError, match="inline table"):
        _tomledit.edit_server('mcp_servers = { a = { command = "x" } }\n', "b", {"command": "y"})
    with pytest.raises(_tomledit.TomlEditError, match="invalid TOML"):
        _tomledit.edit_server("[mcp_servers.a\ncommand = 1\n", "a", None)


def test_values_render_as_toml_that_reads_back_the_same() -> None:
    value = {"s": 'tab\there "q" \\ \x01 é', "n": 3, "f": 1.5, "b": False, "l": ["a", 1], "t": {"k-1": "v", "a b": "w"}}
    assert loads("x = " + _tomledit.render_value(value))["x"] == value


# ----------------------------------------------------------------------------- overrides and config files


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("mcp_servers.test.command=python", ("mcp_servers", "test", "command"), "python"),
        ('mcp_servers.test.command="python"', ("mcp_servers", "test", "command"), "python"),
        ("mcp_servers.t.startup_timeout_sec=2.5", ("mcp_servers", "t", "startup_timeout_sec"), 2.5),
        ('mcp_servers.t.args=["-m", "x"]', ("mcp_servers", "t", "args"), ["-m", "x"]),
        ("mcp_servers.t.enabled=false", ("mcp_servers", "t", "enabled"), False),
        ("mcp_servers.t.env={ K = 'v' }", ("mcp_servers", "t", "env"), {"K": "v"}),
        ("a.b=x=y", ("a", "b"), "x=y"),
        (" a = 'quoted' ", ("a",), "quoted"),
    ],
)
def test_overrides_read_toml_values_else_strings(text: str, key: tuple, value: object) -> None:
    assert _configfile.parse_override(text) == (key, value, text.strip())


@pytest.mark.parametrize(("text", "message"), [("nokey", "missing '='"), ("=1", "empty key"), ("a..b=1", "empty part")])
def test_malformed_overrides_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(CLIError, match=message) as caught:
        _configfile.parse_override(text)
    assert caught.value.status == _exits.EXIT_USAGE


def test_overrides_create_tables_and_follow_a_json_files_section() -> None:
    document = {"mcpServers": {"a": {"command": "x"}}, "other": 1}
    result = _configfile.apply_overrides(
        document, [(("mcp_servers", "a", "args"), ["1"]), (("mcp_servers", "b", "command"), "y")]
    )
    assert result == {"mcpServers": {"a": {"command": "x", "args": ["1"]}, "b": {"command": "y"}}, "other": 1}
    assert document == {"mcpServers": {"a": {"command": "x"}}, "other": 1}  # the input is not changed
    with pytest.raises(CLIError, match="is not a table"):
        _configfile.apply_overrides({"other": 1}, [(("other", "x"), 1)])


def test_json_configurations_are_edited_with_their_indentation_and_key_order(tmp_path: Path) -> None:
    path = tmp_path / "claude.json"
    original = '{\n    "theme": "dark",\n    "mcpServers": {\n        "a": {"command": "x"}\n    }\n}\n'
    path.write_text(original)
    result = _configfile.edit_config(path, "b", {"command": "y", "args": ["1"]})
    assert result.changed and not result.existed
    text = path.read_text()
    assert text.startswith('{\n    "theme": "dark",')
    assert json.loads(text) == {"theme": "dark", "mcpServers": {"a": {"command": "x"}, "b": {"command": "y", "args": ["1"]}}}
    assert _configfile.edit_config(path, "b", None).existed
    assert json.loads(path.read_text()) == json.loads(original)


def test_an_edit_that_makes_the_configuration_invalid_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[mcp_servers.a]\ncommand = 'x'\n")
    path.chmod(0o640)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="the file was not changed"):
        _configfile.edit_config(path, "b", {"url": "not a url"})
    assert path.read_bytes() == before
    _configfile.edit_config(path, "b", {"command": "y"})
    assert path.stat().st_mode & 0o777 == 0o640  # the mode is kept
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_symlinked_configuration_is_edited_where_it_points(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "config.toml"
    real.parent.mkdir()
    real.write_text("# mine\n")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    _configfile.edit_config(link, "a", {"command": "x"})
    assert link.is_symlink() and "[mcp_servers.a]" in real.read_text()


# ----------------------------------------------------------------------------- logging


def test_log_settings() -> None:
    assert _logsetup.parse_log_spec(None) == _logsetup.LogSpec()
    debug = _logsetup.parse_log_spec("debug")
    assert debug.level == logging.DEBUG and not debug.wire
    wire = _logsetup.parse_log_spec("wire")
    assert wire.level == logging.DEBUG and wire.wire
    both = _logsetup.parse_log_spec("info, wire, manager=debug")
    assert (both.level, both.wire, both.loggers) == (logging.INFO, True, (("syncmcp.manager", logging.DEBUG),))
    with pytest.raises(CLIError, match="invalid log level 'loud'"):
        _logsetup.parse_log_spec("loud")


def test_debug_logging_leaves_wire_messages_out_and_wire_brings_them_in() -> None:
    stream = io.StringIO()
    root = logging.getLogger("syncmcp")
    saved = (root.level, root.propagate, list(root.handlers), logging.getLogger("syncmcp.wire").level)
    try:
        for setting, expect_wire in (("debug", False), ("wire", True)):
            stream.seek(0)
            stream.truncate()
            handler = _logsetup.configure_logging(_logsetup.parse_log_spec(setting), stream)
            logging.getLogger("syncmcp.wire.demo").debug("-> %s", {"method": "ping"})
            logging.getLogger("syncmcp.manager").debug("manager detail")
            root.removeHandler(handler)
            assert "manager detail" in stream.getvalue()
            assert ("'method': 'ping'" in stream.getvalue()) is expect_wire
    finally:
        root.setLevel(saved[0])
        root.propagate = saved[1]
        root.handlers[:] = saved[2]
        logging.getLogger("syncmcp.wire").setLevel(saved[3])


# ----------------------------------------------------------------------------- arguments, statuses, output


def test_tool_arguments_from_json_and_pairs_follow_the_schema() -> None:
    schema = {"properties": {"name": {"type": "string"}, "n": {"type": ["integer", "null"]}, "tags": {"type": "array"}}}
    parsed = _use.parse_tool_arguments('{"n": 1, "keep": true}', ["name=true", "n=2", 'tags=["a"]', "raw=not json", "e="], schema)
    assert parsed == {"n": 2, "keep": True, "name": "true", "tags": ["a"], "raw": "not json", "e": ""}
    assert _use.parse_tool_arguments("-", [], stdin=io.StringIO('{"x": 1}')) == {"x": 1}
    with pytest.raises(CLIError, match="not valid JSON"):
        _use.parse_tool_arguments("{oops", [])
    with pytest.raises(CLIError, match="must be a JSON object, got array"):
        _use.parse_tool_arguments("[1]", [])
    with pytest.raises(CLIError, match="key=value"):
        _use.parse_tool_arguments(None, ["novalue"])


def test_numbers_json_cannot_carry_are_refused_except_as_text() -> None:
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": [-Infinity]}', '{"a": 1e400}', '{"a": {"b": -1e999}}'):
        with pytest.raises(CLIError, match="is not a finite number") as caught:
            _use.parse_tool_arguments(text, [])
        assert caught.value.status == _exits.EXIT_USAGE
    schema = {"properties": {"name": {"type": "string"}, "n": {"type": "number"}, "either": {"type": ["string", "number"]}}}
    for pair in ("n=NaN", "n=1e999", "free=Infinity", "free=[1, NaN]"):
        with pytest.raises(CLIError, match=r"^--arg \w+: .* is not a finite number .* write a JSON string: "):
            _use.parse_tool_arguments(None, [pair], schema)
    assert _use.parse_tool_arguments(None, ["name=NaN", "either=Infinity", "n=1e308"], schema) == {
        "name": "NaN",
        "either": "Infinity",
        "n": 1e308,
    }
    assert _use.parse_tool_arguments('{"big": 100000000000000000000000}', []) == {"big": 10**23}


def test_exit_statuses_by_exception() -> None:
    timeout = RequestTimeout("slow", timeout=1)
    unavailable = ServerUnavailableError("failed to get client")
    unavailable.__cause__ = timeout
    cases = [
        (CLIError("x", 3), 3),
        (UnknownToolError("x"), 2),
        (ConfigError("x"), 2),
        (SchemaValidationError("args"), 2),
        (SchemaValidationError("output", result=object()), 3),
        (ServerUnavailableError("x"), 3),
        (RemoteError(-32602, "Unknown prompt: 'x'"), 2),
        (RemoteError(-32002, "Resource not found"), 2),
        (RemoteError(-32603, "Internal error"), 3),
        (unavailable, 4),
        (timeout, 4),
        (KeyboardInterrupt(), 130),
        (_exits.Terminated(), 143),
        (BrokenPipeError(), 141),
        (ZeroDivisionError(), 70),
    ]
    assert [_exits.exit_status(error) for error, _ in cases] == [status for _, status in cases]


def test_results_are_printed_as_text_with_binary_content_described() -> None:
    from syncmcp import CallToolResult

    result = CallToolResult.from_dict(
        {
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "a://b", "text": "inner"}},
                {"type": "resource", "resource": {"uri": "a://c", "blob": "AAEC", "mimeType": "application/zip"}},
                {"type": "resource_link", "uri": "a://d", "name": "d"},
            ]
        }
    )
    assert _output.render_call_result(result).splitlines() == [
        "hello",
        "[image: image/png, 8 bytes]",
        "inner",
        "[binary resource a://c: application/zip, 3 bytes]",
        "[resource link: a://d (d)]",
    ]


def test_control_characters_are_escaped_in_text_output() -> None:
    from syncmcp import Tool
    from syncmcp._toolnames import ToolInfo

    hostile = "a\x1b]52;c;ZWNobw==\x07\x1b[2K\rb\x9b1m\x00\x7f"
    shown = "a\\x1b]52;c;ZWNobw==\\x07\\x1b[2K\\x0db\\x9b1m\\x00\\x7f"
    assert _output.terminal_text(hostile) == shown
    assert _output.terminal_text("tab\tline\r\nnext\n") == "tab\tline\r\nnext\n"  # harmless ones stay
    # Bidirectional overrides and isolates would show the text in another order than it has.
    assert _output.terminal_text("rm \u202eexe.txt\u2066x\u2069") == "rm \\u202eexe.txt\\u2066x\\u2069"
    assert _output.terminal_text("שלום, é, ✓") == "שלום, é, ✓"  # right-to-left letters themselves stay
    assert _output.table(["A", "B"], [[hostile, "x"]]) == [f"A{' ' * (len(shown) + 1)}B", f"{shown}  x"]
    info = ToolInfo("ws", "t", Tool.from_dict({"name": "t", "description": "x\x1b[31m", "inputSchema": {}}), "ws__t")
    assert _output.tool_lines([info]) == ["ws__t()  x\\x1b[31m"]
    assert "\x1b" not in "".join(_output.tool_lines([info], long=True))
    stream = io.StringIO()
    progress = _progress.Progress(stream, enabled=True, escape=_output.terminal_text)
    progress.tool_progress("ws__t")(1, 2, "step\n" + hostile)
    progress.line(hostile)
    assert stream.getvalue() == f"\r\x1b[Kws__t: 1/2 (50%) step {shown}\r\x1b[Ksyncmcp: {shown}\n"


def test_progress_writes_only_when_enabled_and_erases_its_line() -> None:
    quiet = io.StringIO()
    _progress.Progress(quiet, enabled=False).tool_progress("t")(1, 2, "half")
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    progress = _progress.Progress(loud, enabled=True)
    progress.tool_progress("demo__tool")(1, 4, "step 1")
    progress.clear()
    assert loud.getvalue() == "\r\x1b[Kdemo__tool: 1/4 (25%) step 1\r\x1b[K"


def test_call_starts_the_servers_a_qualified_name_may_belong_to() -> None:
    from syncmcp._toolnames import qualify_tool_names

    long_server = "a-server-with-a-very-long-name"
    long_name = next(iter(qualify_tool_names([(long_server, "a_tool_with_a_long_name_too_for_the_limit")])))
    assert len(long_name) == 64 and not long_name.startswith(long_server + "__")
    assert _use._may_own(long_server, long_name)
    assert _use._may_own("fs", "fs__read") and _use._may_own("fs", "fs__x__y")
    assert not _use._may_own("fs", "fsx__read") and not _use._may_own("f", "fs__read")


# ----------------------------------------------------------------------------- in-process main()


def test_main_in_a_program_leaves_logging_and_signal_handlers_as_it_found_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal

    from syncmcp.cli import main

    config = tmp_path / "config.toml"
    config.write_text("[mcp_servers.a]\ncommand = 'x'\n")
    root, wire, family = logging.getLogger("syncmcp"), logging.getLogger("syncmcp.wire"), logging.getLogger("syncmcp.manager")
    mine = logging.NullHandler()
    saved = [(logger.level, logger.propagate, list(logger.handlers)) for logger in (root, wire, family)]
    root.addHandler(mine)
    root.setLevel(logging.ERROR)
    wire.setLevel(logging.CRITICAL)
    try:
        before = [(logger.level, logger.propagate, list(logger.handlers)) for logger in (root, wire, family)]
        handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        for argv in (
            ["--config-file", str(config), "--log-level", "debug,wire,manager=info", "list"],
            ["--config-file", str(config), "list"],
            ["--config-file", str(tmp_path / "missing.toml"), "tools"],  # an error
        ):
            main(argv)
            assert [(logger.level, logger.propagate, list(logger.handlers)) for logger in (root, wire, family)] == before
            assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
        assert "configuration file not found" in capsys.readouterr().err
    finally:
        for logger, (level, propagate, handlers_before) in zip((root, wire, family), saved):
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers[:] = handlers_before


def test_after_the_first_interrupt_signals_wait_for_the_clean_up() -> None:
    import signal

    from syncmcp.cli._context import Interrupts

    interrupts = Interrupts()
    interrupts.install()
    try:
        assert signal.getsignal(signal.SIGINT) != signal.default_int_handler
        with pytest.raises(KeyboardInterrupt):
            with interrupts.deferred():  # clean-up on the normal path: held until it is done
                signal.raise_signal(signal.SIGTERM)
                done = True
        assert done and interrupts.first == signal.SIGTERM
        for _ in range(3):  # later ones are counted, never raised
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGTERM)
        assert interrupts.later == 6
        fresh = Interrupts()
        with pytest.raises(KeyboardInterrupt) as caught:
            fresh._handle(signal.SIGTERM, None)
        assert isinstance(caught.value, _exits.Terminated)
    finally:
        interrupts.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
