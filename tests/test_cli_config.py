"""``syncmcp list/get/add/remove`` through the real entry point, on configuration files in temp folders.

Codex's texts are pinned; edits must leave the rest of a hand-written file byte for byte, refuse
what would make it invalid without touching it, and survive concurrent writers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from .conftest import CLI

HAND_WRITTEN = """\
# My MCP setup -- edited by hand, keep the comments!
model = "o3"            # other tools read this file too
approval_policy = "on-request"

[profiles.fast]
model = "o4-mini"
tags = [
  "quick",   # short answers
  "cheap",
]

# Files, read-only
[mcp_servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]
disabled_tools = ["write_file", "move_file"]  # never write

[mcp_servers.files.env]
LOG_LEVEL = "warn"

[notes]
text = '''
[mcp_servers.not_a_server]
'''
"""


def write(path: Path, text: str) -> bytes:
    path.write_text(text)
    return path.read_bytes()


def test_without_a_file_list_and_get_show_the_builtin_server(cli: CLI) -> None:
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["Name", "Command", "Args", "Env", "Cwd", "Status", "Auth"]
    assert lines[1].split()[0] == "workspace" and "-m syncmcp serve" in lines[1]
    assert f"No configuration file at {cli.default_config}" in listed.stdout
    entries = json.loads(cli("list", "--json").stdout)
    assert [(e["name"], e["transport"]["type"], e["transport"]["args"]) for e in entries] == [
        ("workspace", "stdio", ["-m", "syncmcp", "serve"])
    ]
    got = json.loads(cli("get", "workspace", "--json").stdout)
    assert got["transport"]["command"] == sys.executable and got["enabled"] is True
    assert not cli.default_config.exists()


def test_add_list_get_remove_keep_a_hand_written_file_byte_for_byte(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    original = write(config, HAND_WRITTEN)
    added = cli(
        "--config-file", str(config), "add", "time", "--env", "TZ=UTC", "--", "uvx", "mcp-server-time", "--local-timezone", "UTC"
    )
    assert (added.returncode, added.stdout, added.stderr) == (0, "Added global MCP server 'time'.\n", "")
    text = config.read_text()
    block = '\n[mcp_servers.time]\ncommand = "uvx"\nargs = ["mcp-server-time", "--local-timezone", "UTC"]\nenv = { TZ = "UTC" }\n'
    assert block in text and text.replace(block, "", 1).encode() == original

    listed = cli("--config-file", str(config), "list")
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == {"files", "time"}  # sorted by name, the look-alike in a string is no server
    assert "TZ=*****" in rows["time"] and "UTC\n" not in rows["time"]  # values are masked
    assert "LOG_LEVEL=*****" in rows["files"]
    data = json.loads(cli("list", "--json", "--config-file", str(config)).stdout)
    assert [entry["name"] for entry in data] == ["files", "time"]
    assert data[1]["transport"] == {
        "type": "stdio",
        "command": "uvx",
        "args": ["mcp-server-time", "--local-timezone", "UTC"],
        "env": {"TZ": "*****"},  # values may be secrets: masked, as in the table
        "env_vars": [],
        "cwd": None,
    }
    got = cli("get", "files", "--config-file", str(config))
    assert got.stdout.splitlines()[:3] == ["files", "  enabled: true", "  disabled_tools: write_file, move_file"]
    assert "  remove: syncmcp remove files" in got.stdout

    removed = cli("remove", "time", "--config-file", str(config))
    assert (removed.returncode, removed.stdout) == (0, "Removed global MCP server 'time'.\n")
    assert config.read_bytes() == original
    again = cli("remove", "time", "--config-file", str(config))
    assert (again.returncode, again.stdout) == (0, "No MCP server named 'time' found.\n")
    missing = cli("get", "time", "--config-file", str(config))
    assert (missing.returncode, missing.stderr) == (2, "syncmcp: error: No MCP server named 'time' found.\n")


def test_add_replaces_a_server_in_place_and_takes_urls(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write(config, HAND_WRITTEN)
    env = {"SYNCMCP_CONFIG": str(config)}
    replaced = cli("add", "files", "--", "npx", "-y", "other-server", env=env)
    assert (replaced.returncode, replaced.stdout) == (0, "Added global MCP server 'files'.\n")
    assert (
        replaced.stderr
        == "syncmcp: MCP server 'files' was already configured: replaced command, args, env; kept disabled_tools\n"
    )
    text = config.read_text()
    assert (
        '# Files, read-only\n[mcp_servers.files]\ncommand = "npx"\nargs = ["-y", "other-server"]\n'
        'disabled_tools = ["write_file", "move_file"]  # never write\n\n[notes]'
    ) in text
    assert "LOG_LEVEL" not in text and text.startswith(HAND_WRITTEN[: HAND_WRITTEN.index("# Files")])
    http = cli("add", "remote", "--url", "https://mcp.example.com/mcp", "--bearer-token-env-var", "REMOTE_TOKEN", env=env)
    assert http.returncode == 0 and http.stdout == "Added global MCP server 'remote'.\n"
    assert http.stderr == ""  # a bearer token is configured: no login hint
    oauth = cli("add", "linear", "--url", "https://mcp.linear.test/mcp", env=env)
    assert oauth.stderr == "syncmcp: if the server requires OAuth, log in with: syncmcp login linear\n"
    got = json.loads(cli("get", "remote", "--json", env=env).stdout)
    assert got["transport"] == {
        "type": "streamable_http",
        "url": "https://mcp.example.com/mcp",
        "bearer_token_env_var": "REMOTE_TOKEN",
        "http_headers": None,
        "env_http_headers": None,
    }
    stdio_table, http_table = cli("list", env=env).stdout.split("\n\n")
    assert [re.split(r"\s{2,}", line) for line in http_table.splitlines()] == [
        ["Name", "Url", "Bearer Token Env Var", "Status", "Auth"],
        ["linear", "https://mcp.linear.test/mcp", "-", "enabled", "Unknown"],
        ["remote", "https://mcp.example.com/mcp", "REMOTE_TOKEN", "enabled", "Bearer token"],
    ]
    assert [line.split()[0] for line in stdio_table.splitlines()] == ["Name", "files"]


def test_invalid_edits_are_refused_and_leave_the_file_untouched(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    original = write(config, HAND_WRITTEN)
    env = {"SYNCMCP_CONFIG": str(config)}
    cases = [
        (["add", "bad name", "--", "x"], "syncmcp: error: invalid server name 'bad name' (use letters, numbers, '-', '_')\n"),
        (["add", "ok", "--env", "NOVALUE", "--", "x"], "syncmcp: error: environment entries must be in KEY=VALUE form\n"),
        (["add", "ok", "--env", "=v", "--", "x"], "syncmcp: error: environment entries must be in KEY=VALUE form\n"),
        (["add", "ok"], None),
        (["add", "ok", "--url", "https://x.test/mcp", "--", "cmd"], None),
        (["add", "ok", "--env", "A=1", "--url", "https://x.test/mcp"], None),
        (["add", "ok", "--url", "not a url"], None),
        (["remove", "bad/name"], "syncmcp: error: invalid server name 'bad/name' (use letters, numbers, '-', '_')\n"),
    ]
    for args, message in cases:
        result = cli(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
        assert result.stderr.startswith("syncmcp: error: ") and len(result.stderr.splitlines()) == 1, result.stderr
        if message is not None:
            assert result.stderr == message
        assert config.read_bytes() == original, args

    broken = write(config, HAND_WRITTEN + "\n[mcp_servers.typo]\ncomand = 'x'\n")
    refused = cli("add", "ok", "--", "x", env=env)
    assert refused.returncode == 2 and "mcp_servers.typo.comand: unknown key 'comand' (did you mean 'command'?)" in refused.stderr
    assert "the file was not changed" in refused.stderr and config.read_bytes() == broken
    assert cli("remove", "typo", env=env).returncode == 0  # removing the broken server is how to repair it
    assert config.read_bytes() == original

    for text, expected in (
        ("[mcp_servers.a\ncommand = 'x'\n", "invalid TOML"),
        ('mcp_servers = { a = { command = "x" } }\n', "inline table"),
    ):
        before = write(config, text)
        result = cli("add", "ok", "--", "x", env=env)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert config.read_bytes() == before


def test_the_first_add_creates_a_private_default_file_and_says_the_builtin_is_replaced(cli: CLI) -> None:
    result = cli("add", "echo", "--", sys.executable, "-m", "echo_server")
    assert result.returncode == 0 and result.stdout == "Added global MCP server 'echo'.\n"
    assert "instead of its built-in 'workspace' server" in result.stderr
    assert cli.default_config.stat().st_mode & 0o777 == 0o600
    assert [entry["name"] for entry in json.loads(cli("list", "--json").stdout)] == ["echo"]
    assert cli("remove", "echo").returncode == 0
    assert cli("list").stdout == "No MCP servers configured yet. Try `syncmcp add my-tool -- my-command`.\n"


def test_json_mcp_servers_files_are_edited_too(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(json.dumps({"globalShortcut": "Ctrl+Space", "mcpServers": {"a": {"command": "x"}}}, indent=2) + "\n")
    env = {"SYNCMCP_CONFIG": str(config)}
    assert cli("add", "b", "--env", "K=v", "--", "npx", "pkg", env=env).returncode == 0
    assert json.loads(config.read_text()) == {
        "globalShortcut": "Ctrl+Space",
        "mcpServers": {"a": {"command": "x"}, "b": {"command": "npx", "args": ["pkg"], "env": {"K": "v"}}},
    }
    assert [e["name"] for e in json.loads(cli("list", "--json", env=env).stdout)] == ["a", "b"]
    assert cli("remove", "a", env=env).stdout == "Removed global MCP server 'a'.\n"
    assert list(json.loads(config.read_text())["mcpServers"]) == ["b"]


def test_overrides_change_what_list_and_get_show_for_this_run_only(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    original = write(config, HAND_WRITTEN)
    env = {"SYNCMCP_CONFIG": str(config)}
    result = cli(
        "-c",
        "mcp_servers.test.command=python",
        "list",
        "--json",
        "--config",
        'mcp_servers.test.args=["-m", "server"]',
        "-c",
        "mcp_servers.files.enabled=false",
        "-c",
        "mcp_servers.test.tool_timeout_sec=5",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    entries = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert entries["test"]["transport"]["command"] == "python" and entries["test"]["transport"]["args"] == ["-m", "server"]
    assert entries["test"]["tool_timeout_sec"] == 5 and entries["files"]["enabled"] is False
    assert cli("-c", "mcp_servers.files.enabled=false", "get", "files", env=env).stdout == "files (disabled)\n"
    assert config.read_bytes() == original
    assert cli("-c", "nokey", "list", env=env).stderr == "syncmcp: error: invalid override (missing '='): nokey\n"
    bad = cli("-c", "mcp_servers.files.startup_timeout_sec=-1", "list", env=env)
    assert (bad.returncode, bad.stderr) == (
        2,
        "syncmcp: error: -c mcp_servers.files.startup_timeout_sec=-1: mcp_servers.files.startup_timeout_sec: "
        "expected a positive number of seconds up to a year, got -1\n",
    )
    assert cli("-c", "mcp_servers.test.command=python", "list").stdout.splitlines()[1].startswith("test ")  # on the built-in


def test_concurrent_adds_from_several_processes_lose_no_edit(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write(config, HAND_WRITTEN)
    env = cli.environment({"SYNCMCP_CONFIG": str(config)})
    processes = [
        subprocess.Popen(
            cli.argv("add", f"s{index}", "--", "cmd", str(index)),
            cwd=cli.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for index in range(8)
    ]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    names = [entry["name"] for entry in json.loads(cli("list", "--json", env={"SYNCMCP_CONFIG": str(config)}).stdout)]
    assert names == sorted(["files", *(f"s{index}" for index in range(8))])
    text = config.read_text()
    assert text.startswith(HAND_WRITTEN[: HAND_WRITTEN.index("[notes]")].rstrip("\n"))
    assert text.endswith(HAND_WRITTEN[HAND_WRITTEN.index("\n[notes]") :])


def test_a_bad_override_is_named_instead_of_the_file(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write(config, HAND_WRITTEN)
    env = {"SYNCMCP_CONFIG": str(config)}
    args = cli("-c", "mcp_servers.files.args=oops", "tools", env=env)
    assert (args.returncode, args.stderr) == (
        2,
        "syncmcp: error: -c mcp_servers.files.args=oops: mcp_servers.files.args: expected a list of strings, got a string ('oops')\n",
    )
    # A conflict the override causes with the file's keys names the override too.
    url = cli("-c", "mcp_servers.files.url=https://x.example/mcp", "list", env=env)
    assert url.stderr == (
        "syncmcp: error: -c mcp_servers.files.url=https://x.example/mcp: mcp_servers.files.url: url is not supported for stdio\n"
    )
    new_server = cli("-c", "mcp_servers.n.url=https://x.example/mcp", "-c", "mcp_servers.n.args=[]", "list", env=env)
    assert new_server.stderr.startswith("syncmcp: error: -c mcp_servers.n.args=[]: mcp_servers.n.args: args is not supported")
    builtin = cli("-c", "mcp_servers.workspace.args=oops", "list")
    assert builtin.stderr.startswith("syncmcp: error: -c mcp_servers.workspace.args=oops: mcp_servers.workspace.args:")
    # An invalid file is still the file's fault, overrides or not.
    write(config, "[mcp_servers.x]\ncomand = 'python'\n")
    typo = cli("-c", "mcp_servers.x.args=[]", "list", env=env)
    assert typo.stderr == f"syncmcp: error: {config}: mcp_servers.x.comand: unknown key 'comand' (did you mean 'command'?)\n"


def test_add_over_an_existing_server_keeps_its_other_settings_and_says_what_it_replaced(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write(
        config,
        "[mcp_servers.fs]\n"
        'command = "npx"\n'
        'args = ["-y", "old-server"]\n'
        'cwd = "/srv"\n'
        'env_vars = ["HOME"]\n'
        "# only reading\n"
        'enabled_tools = ["read_file", "list_directory"]  # the allow-list\n'
        'disabled_tools = ["write_file"]\n'
        "required = true\n"
        "tool_timeout_sec = 5\n"
        "\n"
        "[mcp_servers.fs.env]\n"
        'TOKEN = "secret"\n',
    )
    env = {"SYNCMCP_CONFIG": str(config)}
    stdio = cli("add", "fs", "--env", "LOG=debug", "--", "node", "new-server.js", env=env)
    assert (stdio.returncode, stdio.stdout) == (0, "Added global MCP server 'fs'.\n")
    assert stdio.stderr == (
        "syncmcp: MCP server 'fs' was already configured: replaced command, args, env; "
        "kept cwd, env_vars, enabled_tools, disabled_tools, required, tool_timeout_sec\n"
    )
    assert config.read_text() == (
        "[mcp_servers.fs]\n"
        'command = "node"\n'
        'args = ["new-server.js"]\n'
        'env = { LOG = "debug" }\n'
        'cwd = "/srv"\n'
        'env_vars = ["HOME"]\n'
        "# only reading\n"
        'enabled_tools = ["read_file", "list_directory"]  # the allow-list\n'
        'disabled_tools = ["write_file"]\n'
        "required = true\n"
        "tool_timeout_sec = 5\n"
    )
    got = json.loads(cli("get", "fs", "--json", env=env).stdout)
    assert got["enabled_tools"] == ["read_file", "list_directory"] and got["required"] is True

    http = cli("add", "fs", "--url", "https://mcp.example.com/mcp", env=env)
    assert http.returncode == 0
    assert http.stderr.splitlines()[0] == (
        "syncmcp: MCP server 'fs' was already configured: replaced command, args, env; "
        "kept enabled_tools, disabled_tools, required, tool_timeout_sec; "
        "dropped cwd, env_vars (not supported for streamable_http)"
    )
    got = json.loads(cli("get", "fs", "--json", env=env).stdout)
    assert got["transport"]["url"] == "https://mcp.example.com/mcp" and got["enabled_tools"] == ["read_file", "list_directory"]
    assert got["disabled_tools"] == ["write_file"] and got["tool_timeout_sec"] == 5

    claude = tmp_path / "claude.json"
    claude.write_text(json.dumps({"mcpServers": {"a": {"command": "x", "env": {"K": "v"}, "disabled": True}}}))
    assert cli("add", "a", "--", "y", env={"SYNCMCP_CONFIG": str(claude)}).returncode == 0
    assert json.loads(claude.read_text()) == {"mcpServers": {"a": {"command": "y", "disabled": True}}}


def test_remove_and_add_edit_the_section_a_toml_file_uses(cli: CLI, tmp_path: Path) -> None:
    for section in ("mcpServers", "servers"):
        config = tmp_path / f"{section}.toml"
        original = write(config, f"# {section}\n\n[{section}.foo]\ncommand = 'x'\n")
        env = {"SYNCMCP_CONFIG": str(config)}
        added = cli("add", "bar", "--", "y", "z", env=env)
        assert added.returncode == 0, added.stderr
        assert config.read_text() == original.decode() + f'\n[{section}.bar]\ncommand = "y"\nargs = ["z"]\n'
        assert [entry["name"] for entry in json.loads(cli("list", "--json", env=env).stdout)] == ["bar", "foo"]
        assert cli("remove", "bar", env=env).stdout == "Removed global MCP server 'bar'.\n"
        assert config.read_bytes() == original
        removed = cli("remove", "foo", env=env)
        assert (removed.returncode, removed.stdout) == (0, "Removed global MCP server 'foo'.\n")
        assert config.read_text() == f"# {section}\n"
        assert cli("list", "--json", env=env).stdout == "[]\n"


def test_remove_keeps_the_comment_heading_the_file(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write(config, '# Managed by dotfiles - do not lose this header\n[mcp_servers.fs]\ncommand = "npx"\nargs = ["other"]\n')
    assert cli("remove", "fs", "--config-file", str(config)).returncode == 0
    assert config.read_text() == "# Managed by dotfiles - do not lose this header\n"


def test_json_files_get_only_keys_their_other_readers_understand(cli: CLI, tmp_path: Path) -> None:
    """Claude Desktop, Cursor and VS Code read command, args, env and url (with a type for HTTP);
    none reads bearer_token_env_var, and syncmcp does not expand their header variables."""
    claude = tmp_path / "claude_desktop_config.json"
    claude.write_text(json.dumps({"mcpServers": {}}, indent=2) + "\n")
    vscode = tmp_path / "mcp.json"
    vscode.write_text(json.dumps({"servers": {}}, indent=2) + "\n")
    for path in (claude, vscode):
        env = {"SYNCMCP_CONFIG": str(path)}
        before = path.read_bytes()
        token = cli("add", "remote", "--url", "https://mcp.example.com/mcp", "--bearer-token-env-var", "TOKEN", env=env)
        assert (token.returncode, token.stdout) == (2, "")
        assert token.stderr.startswith(f"syncmcp: error: cannot write --bearer-token-env-var to {path}: JSON configurations")
        assert "keep MCP server 'remote' in a TOML configuration" in token.stderr and path.read_bytes() == before
        assert cli("add", "remote", "--url", "https://mcp.example.com/mcp", env=env).returncode == 0
        assert cli("add", "local", "--env", "K=v", "--", "npx", "pkg", env=env).returncode == 0
    assert json.loads(claude.read_text())["mcpServers"] == {
        "remote": {"type": "http", "url": "https://mcp.example.com/mcp"},
        "local": {"command": "npx", "args": ["pkg"], "env": {"K": "v"}},
    }
    assert json.loads(vscode.read_text())["servers"] == {
        "remote": {"type": "http", "url": "https://mcp.example.com/mcp"},
        "local": {"type": "stdio", "command": "npx", "args": ["pkg"], "env": {"K": "v"}},
    }


def test_listings_hide_header_values_and_query_values(cli: CLI, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[mcp_servers.remote]\nurl = "https://mcp.example.test/mcp?api_key=SECRETQ"\n'
        'http_headers = { Authorization = "Bearer inline-secret-xyz", "X-Team" = "blue-team-value" }\n'
    )
    env = {"SYNCMCP_CONFIG": str(config)}
    outputs = [cli("list", env=env).stdout, cli("list", "--json", env=env).stdout, cli("get", "remote", env=env).stdout]
    outputs.append(cli("get", "remote", "--json", env=env).stdout)
    for output in outputs:
        assert "mcp.example.test/mcp?api_key=***" in output
        for secret in ("SECRETQ", "inline-secret-xyz", "blue-team-value"):
            assert secret not in output
    assert json.loads(outputs[1])[0]["transport"]["http_headers"] == {"Authorization": "*****", "X-Team": "*****"}
