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
    assert '# the clock\n[mcp_servers.time]\ncommand = "uvx"\n' in replaced
    assert replaced.index("[mcp_servers.time]") < replaced.index("[other]")
    expected = loads(RICH)
    expected["mcp_servers"]["time"] = {"command": "uvx", "args": ["mcp-server-time", "--local-timezone", "UTC"]}
    assert loads(replaced) == expected
    # Replacing a server with sub-tables drops them, with their blank line.
    files = _tomledit.edit_server(RICH, "files", {"command": "npx"})
    assert "TOKEN" not in files and loads(files)["mcp_servers"]["files"] == {"command": "npx"}


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
    assert _configfile.parse_override(text) == (key, value)


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
