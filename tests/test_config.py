"""ServerConfig and load_config: both file shapes, Codex's rules and texts, and precise errors."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

import syncmcp
from syncmcp import ConfigError, ServerConfig, load_config
from syncmcp._config import (
    PROTOCOL_ERAS,
    embedded_default_servers,
    parse_config,
    resolve_bearer_token,
    resolve_config_path,
)

CODEX_CONFIG = """
model = "o3"
approval_policy = "on-request"
mcp_oauth_credentials_store = "file"

[profiles.fast]
model = "o4-mini"

[mcp_servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]
disabled_tools = ["write_file", "move_file"]

[mcp_servers.github]
url = "https://api.githubcopilot.com/mcp/"
bearer_token_env_var = "GITHUB_PAT"
startup_timeout_ms = 20000
tool_timeout_sec = 120.5

[mcp_servers.github.tools.create_issue]
approval_mode = "prompt"

[mcp_servers.off]
command = "x"
enabled = false
required = true
env = { "API_KEY" = "k" }
env_vars = ["HOME", { name = "TOKEN", source = "local" }]
cwd = "/tmp"
enabled_tools = ["a", "b"]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, name: str = "config.toml") -> ConfigError:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value), "every error names the file"
    return info.value


# ----------------------------------------------------------------------------- TOML


def test_an_existing_codex_config_loads_unchanged_in_file_order(tmp_path: Path) -> None:
    servers = load_config(write(tmp_path, "config.toml", CODEX_CONFIG))
    assert list(servers) == ["files", "github", "off"]
    files = servers["files"]
    assert files.transport == "stdio"
    assert files.command == "npx"
    assert files.args == ("-y", "@modelcontextprotocol/server-filesystem", "/srv/data")
    assert files.disabled_tools == ("write_file", "move_file")
    assert files.enabled_tools is None
    assert (files.startup_timeout_sec, files.tool_timeout_sec) == (10.0, 60.0)  # the seed's defaults
    github = servers["github"]
    assert github.transport == "streamable_http"
    assert github.startup_timeout_sec == 20.0  # startup_timeout_ms = 20000
    assert github.tool_timeout_sec == 120.5
    assert github.extras["tools"] == {"create_issue": {"approval_mode": "prompt"}}
    off = servers["off"]
    assert (off.enabled, off.required) == (False, True)
    assert dict(off.env) == {"API_KEY": "k"}
    assert off.env_vars == ("HOME", "TOKEN")
    assert (off.cwd, off.enabled_tools) == ("/tmp", ("a", "b"))


def test_startup_timeout_sec_wins_over_the_ms_alias(tmp_path: Path) -> None:
    text = '[mcp_servers.a]\ncommand = "x"\nstartup_timeout_ms = 5000\nstartup_timeout_sec = 2.5\n'
    assert load_config(write(tmp_path, "c.toml", text))["a"].startup_timeout_sec == 2.5


def test_protocol_era_is_auto_by_default_and_can_be_forced_in_toml_and_json(tmp_path: Path) -> None:
    text = '[mcp_servers.a]\ncommand = "x"\n\n[mcp_servers.b]\ncommand = "x"\nprotocol_era = "legacy"\n'
    servers = load_config(write(tmp_path, "c.toml", text))
    assert (servers["a"].protocol_era, servers["b"].protocol_era) == ("auto", "legacy")
    document = {"mcpServers": {"m": {"url": "https://example.com/mcp", "protocol_era": "modern"}}}
    assert load_config(write(tmp_path, "c.json", json.dumps(document)))["m"].protocol_era == "modern"
    # The era is part of what the server is: a reload with another one restarts the server.
    assert ServerConfig(command="x", protocol_era="legacy") != ServerConfig(command="x")


def test_the_config_eras_are_the_sessions_eras() -> None:
    assert PROTOCOL_ERAS == syncmcp._era.ERAS


def test_a_file_without_servers_is_empty(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "c.toml", 'model = "o3"\n')) == {}


# ----------------------------------------------------------------------------- JSON


def test_claude_desktop_json_shape_loads(tmp_path: Path) -> None:
    document = {
        "globalShortcut": "Ctrl+Space",
        "mcpServers": {
            "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "env": {"MEMORY_FILE_PATH": "/m"}},
            "remote": {"type": "http", "url": "https://example.com/mcp", "headers": {"X-Team": "a"}},
            "off": {"command": "y", "disabled": True},
        },
    }
    servers = load_config(write(tmp_path, "claude_desktop_config.json", json.dumps(document)))
    assert list(servers) == ["memory", "remote", "off"]
    assert dict(servers["memory"].env) == {"MEMORY_FILE_PATH": "/m"}
    assert dict(servers["remote"].http_headers) == {"X-Team": "a"}
    assert servers["off"].enabled is False


def test_vscode_servers_shape_and_content_sniffing(tmp_path: Path) -> None:
    text = json.dumps({"servers": {"time": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"]}}})
    servers = load_config(write(tmp_path, "mcp.conf", text))  # no .json suffix: sniffed
    assert servers["time"].args == ("mcp-server-time",)


def test_json_errors_name_line_and_column(tmp_path: Path) -> None:
    error = error_of(tmp_path, '{"mcpServers": {"a": {"command": "x",}}}', "c.json")
    assert "invalid JSON" in str(error) and "line 1" in str(error)


@pytest.mark.parametrize(
    ("server", "key", "expected"),
    [
        ({"type": "sse", "command": "x"}, "mcpServers.a.type", "does not match"),
        ({"type": "stdio", "url": "https://a/mcp"}, "mcpServers.a.type", "does not match"),
        ({"command": "x", "headers": {"A": "b"}}, "mcpServers.a.headers", "headers is not supported for stdio"),
        ({"command": "x", "enabled": True, "disabled": True}, "mcpServers.a.disabled", "contradicts enabled"),
        ({"command": "x", "autoApprove": []}, "mcpServers.a.autoApprove", "unknown key 'autoApprove'"),
    ],
)
def test_json_shape_errors(tmp_path: Path, server: Dict[str, Any], key: str, expected: str) -> None:
    error = error_of(tmp_path, json.dumps({"mcpServers": {"a": server}}), "c.json")
    assert error.key == key
    assert expected in str(error)


# ----------------------------------------------------------------------------- errors name file, dotted key, expectation


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ('command = "x"\nargs = ["a", "b", 3]', "mcp_servers.github.args[2]", "expected a string, got a number (3)"),
        ('command = "x"\nargs = "a b"', "mcp_servers.github.args", "expected a list of strings"),
        ('comand = "x"', "mcp_servers.github.comand", "did you mean 'command'?"),
        ('command = "x"\ntool_timeout = 5', "mcp_servers.github.tool_timeout", "did you mean 'tool_timeout_sec'?"),
        ('command = "x"\nenv = { A = 1 }', "mcp_servers.github.env.A", "expected a string"),
        ('command = "x"\nenv_vars = [{ name = "A", source = "remote" }]', "mcp_servers.github.env_vars[0].source", '"local"'),
        ('command = "x"\nenabled = "yes"', "mcp_servers.github.enabled", "expected true or false"),
        ('command = "x"\ntool_timeout_sec = -1', "mcp_servers.github.tool_timeout_sec", "positive number of seconds up to a year"),
        ('command = "x"\ntool_timeout_sec = nan', "mcp_servers.github.tool_timeout_sec", "positive number of seconds up to a year"),
        ('command = "x"\nstartup_timeout_sec = inf', "mcp_servers.github.startup_timeout_sec", "positive number of seconds up to a year"),
        ('command = "x"\ntool_timeout_sec = 1e300', "mcp_servers.github.tool_timeout_sec", "up to a year, got 1e+300"),
        ('command = "x"\nstartup_timeout_ms = 31536000001', "mcp_servers.github.startup_timeout_ms", "up to a year"),
        ('command = "x"\nstartup_timeout_sec = "10"', "mcp_servers.github.startup_timeout_sec", "number of seconds"),
        ('command = "x"\nstartup_timeout_ms = 1.5', "mcp_servers.github.startup_timeout_ms", "whole number of milliseconds"),
        ('command = "x"\ntool_retries = 11', "mcp_servers.github.tool_retries", "from 0 to 10"),
        ('command = "x"\nprotocol_era = "2026"', "mcp_servers.github.protocol_era", "expected one of auto, legacy, modern, got '2026'"),
        ('command = "x"\nprotocol_era = 2', "mcp_servers.github.protocol_era", "expected a string, got a number (2)"),
        ('command = "x"\nprotocol_eras = "legacy"', "mcp_servers.github.protocol_eras", "did you mean 'protocol_era'?"),
        ('args = ["a"]', "mcp_servers.github.command", "invalid transport"),
        ('command = "x"\nurl = "https://a/mcp"', "mcp_servers.github.url", "url is not supported for stdio"),
        ('command = "x"\nbearer_token_env_var = "T"', "mcp_servers.github.bearer_token_env_var", "bearer_token_env_var is not supported for stdio"),
        ('command = "x"\nbearer_token = "t"', "mcp_servers.github.bearer_token", "bearer_token is not supported for stdio"),
        ('command = "x"\nhttp_headers = { A = "b" }', "mcp_servers.github.http_headers", "http_headers is not supported for stdio"),
        ('command = "x"\nenv_http_headers = { A = "B" }', "mcp_servers.github.env_http_headers", "env_http_headers is not supported for stdio"),
        ('command = "x"\noauth_resource = "r"', "mcp_servers.github.oauth_resource", "oauth_resource is not supported for stdio"),
        ('url = "https://a/mcp"\nargs = []', "mcp_servers.github.args", "args is not supported for streamable_http"),
        ('url = "https://a/mcp"\nenv = {}', "mcp_servers.github.env", "env is not supported for streamable_http"),
        ('url = "https://a/mcp"\nenv_vars = []', "mcp_servers.github.env_vars", "env_vars is not supported for streamable_http"),
        ('url = "https://a/mcp"\ncwd = "/"', "mcp_servers.github.cwd", "cwd is not supported for streamable_http"),
        ('url = "https://a/mcp"\nbearer_token = "t"', "mcp_servers.github.bearer_token", "bearer_token is not supported for streamable_http"),
        ('url = "ftp://a/mcp"', "mcp_servers.github.url", "http:// or https:// URL"),
        ('url = "https://a/mcp"\nhttp_headers = { "Bad Header" = "x" }', 'mcp_servers.github.http_headers."Bad Header"', "invalid HTTP header name"),
    ],
)
def test_every_error_names_file_dotted_key_and_expectation(tmp_path: Path, body: str, key: str, expected: str) -> None:
    error = error_of(tmp_path, f"[mcp_servers.github]\n{body}\n")
    assert error.key == key
    assert f": {key}: " in str(error)
    assert expected in str(error)


def test_invalid_server_names_use_codex_text(tmp_path: Path) -> None:
    error = error_of(tmp_path, '[mcp_servers."my.server"]\ncommand = "x"\n')
    assert error.key == 'mcp_servers."my.server"'
    assert "Invalid MCP server name 'my.server': must match pattern ^[a-zA-Z0-9_-]+$" in str(error)


def test_near_misses_of_mcp_servers_are_rejected_not_ignored(tmp_path: Path) -> None:
    # openai/codex#3441: Codex silently ignored these.
    assert "did you mean [mcp_servers.NAME]?" in str(error_of(tmp_path, '[mcp.servers.x]\ncommand = "a"\n'))
    assert "unknown key 'mcp_server'" in str(error_of(tmp_path, '[mcp_server.x]\ncommand = "a"\n'))
    assert '"mcpServers"' in str(error_of(tmp_path, json.dumps({"mcpServer": {}}), "c.json"))


def test_toml_syntax_errors_and_encoding_name_the_file(tmp_path: Path) -> None:
    assert "invalid TOML" in str(error_of(tmp_path, "[mcp_servers.a\n"))
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[mcp_servers.a]\ncommand = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_a_table_where_a_server_belongs(tmp_path: Path) -> None:
    error = error_of(tmp_path, 'mcp_servers = { a = "npx" }\n')
    assert error.key == "mcp_servers.a"
    assert "expected a table describing the server" in str(error)


# ----------------------------------------------------------------------------- paths


def test_missing_named_file_is_an_error_but_missing_default_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")
    monkeypatch.delenv("SYNCMCP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert resolve_config_path() == tmp_path / "xdg" / "syncmcp" / "config.toml"
    assert load_config() == {}


def test_syncmcp_config_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "mine.toml", '[mcp_servers.a]\ncommand = "x"\n')
    monkeypatch.setenv("SYNCMCP_CONFIG", str(path))
    assert list(load_config()) == ["a"]
    monkeypatch.setenv("SYNCMCP_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="not found"):
        load_config()


def test_embedded_default_is_used_only_when_no_file_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCMCP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    default = embedded_default_servers()
    assert default["workspace"] == ServerConfig(command=sys.executable, args=("-m", "syncmcp", "serve"))
    with syncmcp.MCPManager.from_config(lazy=True) as manager:  # lazy: nothing is started
        assert manager.servers == default
        assert manager.startup_status()["workspace"].state == "pending"
    (tmp_path / "syncmcp").mkdir()
    (tmp_path / "syncmcp" / "config.toml").write_text("")  # a file exists, even empty: no default
    with syncmcp.MCPManager.from_config(lazy=True) as manager:
        assert manager.servers == {}


# ----------------------------------------------------------------------------- ServerConfig itself


def test_server_config_is_frozen_hashable_and_normalised() -> None:
    config = ServerConfig(command="npx", args=["-y", "pkg"], env={"A": "1"}, enabled_tools=["t"], idempotent_tools=["t"])
    assert config.args == ("-y", "pkg") and config.enabled_tools == ("t",) and config.idempotent_tools == ("t",)
    with pytest.raises(AttributeError):
        config.command = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.env["B"] = "2"  # type: ignore[index]
    same = ServerConfig(command="npx", args=("-y", "pkg"), env={"A": "1"}, enabled_tools=("t",), idempotent_tools=("t",))
    assert config == same and hash(config) == hash(same)
    assert config != ServerConfig(command="npx", args=("-y", "pkg"))
    assert config.display_command == "npx -y pkg"


def test_server_config_rejects_bad_values_with_the_field_name() -> None:
    with pytest.raises(ConfigError, match="invalid transport"):
        ServerConfig()
    with pytest.raises(ConfigError, match=r"^args\[1\]: expected a string"):
        ServerConfig(command="x", args=["a", 2])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="^env: env is not supported for streamable_http"):
        ServerConfig(url="https://a/mcp", env={"A": "b"})
    with pytest.raises(ConfigError, match="tool_timeout_sec"):
        ServerConfig(command="x", tool_timeout_sec=math.inf)
    with pytest.raises(ConfigError, match="startup_timeout_sec"):
        ServerConfig(command="x", startup_timeout_sec=0)
    with pytest.raises(ConfigError, match="^protocol_era: expected one of auto, legacy, modern, got 'Modern'$"):
        ServerConfig(command="x", protocol_era="Modern")


def test_idempotency_comes_from_annotations_or_config() -> None:
    assert ServerConfig(command="x").is_idempotent("t", {"idempotentHint": True})
    assert not ServerConfig(command="x").is_idempotent("t", {"idempotentHint": False})
    assert ServerConfig(command="x", idempotent_tools=True).is_idempotent("anything")
    assert ServerConfig(command="x", idempotent_tools=["t"]).is_idempotent("t")
    assert not ServerConfig(command="x", idempotent_tools=["t"]).is_idempotent("u")


def test_from_dict_names_the_key_under_mcp_servers() -> None:
    with pytest.raises(ConfigError) as info:
        ServerConfig.from_dict({"command": "x", "cwd": 3}, name="fs")
    assert info.value.key == "mcp_servers.fs.cwd"


def test_parse_config_refuses_two_server_sections() -> None:
    with pytest.raises(ConfigError, match="not several"):
        parse_config({"mcp_servers": {}, "mcpServers": {}})


def test_bearer_token_resolution_uses_codex_texts() -> None:
    assert resolve_bearer_token("gh", None) is None
    assert resolve_bearer_token("gh", "T", {"T": "abc"}) == "abc"
    with pytest.raises(ConfigError, match="^Environment variable T for MCP server 'gh' is not set$"):
        resolve_bearer_token("gh", "T", {})
    with pytest.raises(ConfigError, match="^Environment variable T for MCP server 'gh' is empty$"):
        resolve_bearer_token("gh", "T", {"T": ""})


def test_http_transport_choices_load_from_both_shapes(tmp_path: Path) -> None:
    toml = write(
        tmp_path,
        "config.toml",
        '[mcp_servers.old]\nurl = "https://a.test/sse"\ntransport = "sse"\n'
        '[mcp_servers.strict]\nurl = "https://a.test/mcp"\ntransport = "streamable_http"\n'
        '[mcp_servers.plain]\nurl = "https://a.test/mcp"\n',
    )
    servers = load_config(toml)
    assert [servers[n].http_mode for n in ("old", "strict", "plain")] == ["sse", "streamable_http", "auto"]
    assert servers["old"].transport == "sse"
    json_file = write(tmp_path, "c.json", '{"mcpServers": {"a": {"type": "sse", "url": "https://a/sse"}, "b": {"type": "http", "url": "https://b/mcp"}}}')
    servers = load_config(json_file)
    assert (servers["a"].http_mode, servers["b"].http_mode) == ("sse", "auto")


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ('oauth = { client_secret = "x" }', "mcp_servers.s.oauth.client_secret", "client_secret_env_var"),
        ('oauth = { clientid = "x" }', "mcp_servers.s.oauth.clientid", "did you mean 'client_id'"),
        ('oauth = { grant_type = "password" }', "mcp_servers.s.oauth.grant_type", "authorization_code, client_credentials"),
        ('oauth = { grant_type = "client_credentials" }', "mcp_servers.s.oauth", "needs client_id and client_secret_env_var"),
        ('oauth = { callback_port = 70000 }', "mcp_servers.s.oauth.callback_port", "port number"),
        ('oauth = { client_metadata_url = "http://x/c.json" }', "mcp_servers.s.oauth.client_metadata_url", "https://"),
        ('transport = "carrier-pigeon"', "mcp_servers.s.transport", "expected one of"),
        ('transport = "sse"\ntype = "sse"', "mcp_servers.s.transport", "either type or transport"),
    ],
)
def test_oauth_and_transport_errors_name_file_and_key(tmp_path: Path, table: str, key: str, expected: str) -> None:
    error = error_of(tmp_path, f'[mcp_servers.s]\nurl = "https://a.test/mcp"\n{table}\n')
    assert f": {key}: " in str(error)
    assert expected in str(error)
    assert str(tmp_path) in str(error)


def test_oauth_settings_are_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "config.toml",
        '[mcp_servers.s]\nurl = "https://a.test/mcp"\n'
        'oauth = { client_id = "abc", client_secret_env_var = "S_SECRET", grant_type = "client_credentials" }\n',
    )
    assert dict(load_config(path)["s"].oauth) == {
        "client_id": "abc",
        "client_secret_env_var": "S_SECRET",
        "grant_type": "client_credentials",
    }


def test_a_configuration_file_others_can_change_is_refused_with_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text('[mcp_servers.a]\ncommand = "echo"\n')
    path.chmod(0o664)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "mode 0664" in str(caught.value) and "chmod go-w" in str(caught.value)
    path.chmod(0o644)
    folder.chmod(0o777)
    try:
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert "its folder" in str(caught.value) and "mode 0777" in str(caught.value)
        folder.chmod(0o1777)  # sticky, like /tmp: others cannot replace a file they do not own
        assert list(load_config(path)) == ["a"]
    finally:
        folder.chmod(0o755)
    assert list(load_config(path)) == ["a"]
