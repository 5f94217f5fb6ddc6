"""The commands that use servers, through the real entry point: ``tools``, ``call``, ``resources``,
``read``, ``prompts``, ``prompt``, ``doctor``; exit statuses, Ctrl-C, progress and logging.

The embedded ``workspace`` server (no configuration file at all) and the scripted stdlib server
stand in for everything here; third-party servers are in test_cli_real.py."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

from .conftest import CLI, processes_mentioning, scripted, toml_server, wait_until


def configure(tmp_path: Path, text: str) -> Dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text(text)
    return {"SYNCMCP_CONFIG": str(config)}


@pytest.fixture
def servers(tmp_path: Path) -> Dict[str, str]:
    """A configuration with a working scripted server ``s``, one that fails to start and one that hangs."""
    return configure(
        tmp_path,
        "# test servers\n"
        + toml_server("s", scripted("--resources"))
        + toml_server("broken", scripted("--init-exit", "3"))
        + toml_server("slow", scripted("--no-init-answer"), startup_timeout_sec=1),
    )


def test_a_fresh_install_lists_and_calls_the_embedded_workspace_tools(cli: CLI) -> None:
    (cli.cwd / "notes.txt").write_text("remember the milk\n")
    tools = cli("tools")
    assert (tools.returncode, tools.stderr) == (0, "")
    names = [line.split("(")[0] for line in tools.stdout.splitlines()]
    assert {"workspace__list_directory", "workspace__read_file", "workspace__write_file"} <= set(names)
    assert re.search(r"^workspace__read_file\(path, offset\?, limit\?\)\s+Read", tools.stdout, re.MULTILINE)
    listed = json.loads(cli("tools", "workspace", "--json").stdout)
    read_file = next(tool for tool in listed if tool["qualifiedName"] == "workspace__read_file")
    assert (
        read_file["server"] == "workspace"
        and read_file["name"] == "read_file"
        and "path" in read_file["inputSchema"]["properties"]
    )

    listing = cli("call", "workspace__list_directory", "{}")
    assert (listing.returncode, listing.stdout, listing.stderr) == (0, "notes.txt\n", "")
    content = cli("call", "workspace__read_file", "--arg", "path=notes.txt")
    assert (content.returncode, content.stdout) == (0, "remember the milk\n")
    assert not cli.default_config.exists()


def test_resources_read_prompts_and_prompt_on_the_embedded_workspace(cli: CLI) -> None:
    (cli.cwd / "notes.txt").write_text("remember the milk\n")
    resources = cli("resources")
    assert resources.returncode == 0, resources.stderr
    rows = [re.split(r"\s{2,}", line) for line in resources.stdout.split("\n\n")[0].splitlines()]
    assert rows[0] == ["Server", "Uri", "Name", "Mime Type"]
    assert ["workspace", "workspace://config", "config", "application/json"] in rows
    assert ["workspace", (cli.cwd / "notes.txt").as_uri(), "notes.txt", "text/plain"] in rows
    read = json.loads(cli("read", "workspace", "workspace://config", "--json").stdout)
    assert json.loads(read["contents"][0]["text"])["roots"] == [str(cli.cwd)]
    listed = json.loads(cli("prompts", "--json").stdout)
    assert {(item["server"], item["name"]) for item in listed} >= {("workspace", "code_review"), ("workspace", "refactor")}
    prompts = cli("prompts", "workspace")
    assert re.search(r"^workspace\s+code_review\s+path, focus\?\s+Review", prompts.stdout, re.MULTILINE), prompts.stdout
    rendered = cli("prompt", "workspace", "code_review", "--arg", "path=notes.txt", "--arg", "focus=style")
    assert rendered.returncode == 0 and "focusing on style" in rendered.stdout and "remember the milk" in rendered.stdout
    assert json.loads(cli("prompt", "workspace", "code_review", "--arg", "path=notes.txt", "--json").stdout)["messages"]


def test_tool_arguments_come_from_json_stdin_and_arg_options(cli: CLI, servers: Dict[str, str]) -> None:
    assert cli("call", "s__add", '{"a": 1, "b": 2}', env=servers).stdout == "3\n"
    assert cli("call", "s__add", '{"a": 1, "b": 2}', "--arg", "b=40", env=servers).stdout == "41\n"
    assert cli("call", "s__add", "-", env=servers, input='{"a": 2.5, "b": 2}').stdout == "4.5\n"
    assert cli("call", "s__echo", "--arg", "text=hello world", env=servers).stdout == "hello world\n"
    structured = json.loads(cli("call", "s__structured", "--arg", "value=7", "--json", env=servers).stdout)
    assert structured["structuredContent"] == {"value": 7}
    # The session checks the input schema before anything is sent: nothing reaches the server.
    invalid = cli("--log-level", "wire", "call", "s__add", "--arg", "a=1", env=servers)
    assert invalid.returncode == 2
    assert "syncmcp: error: tool call failed for `s/add`: arguments for tool 'add'" in invalid.stderr
    assert "'b' is a required property" in invalid.stderr
    assert "'tools/list'" in invalid.stderr and "'tools/call'" not in invalid.stderr
    for bad, message in (("{oops", "not valid JSON"), ("[1, 2]", "must be a JSON object, got array")):
        result = cli("call", "s__add", bad, env=servers)
        assert result.returncode == 2 and message in result.stderr


def test_each_kind_of_failure_has_its_exit_status_and_one_error_line(cli: CLI, servers: Dict[str, str], tmp_path: Path) -> None:
    failed_tool = cli("call", "s__fail", env=servers)
    assert (failed_tool.returncode, failed_tool.stdout, failed_tool.stderr) == (
        1,
        "it failed\n",
        "syncmcp: tool s__fail reported an error\n",
    )
    unknown_tool = cli("call", "s__nope", env=servers)
    assert unknown_tool.returncode == 2 and unknown_tool.stderr.startswith("syncmcp: error: unknown tool 's__nope'")
    no_server = cli("call", "x__y", env=servers)
    assert no_server.returncode == 2 and "no configured server matches (servers: s, broken, slow)" in no_server.stderr
    hidden = cli("-c", 'mcp_servers.s.disabled_tools=["fail"]', "call", "s__fail", env=servers)
    assert (hidden.returncode, hidden.stderr) == (2, "syncmcp: error: tool 'fail' is disabled for MCP server 's'\n")
    unknown_server = cli("tools", "brokn", env=servers)
    assert unknown_server.stderr == "syncmcp: error: No MCP server named 'brokn' found. Did you mean 'broken'?\n"
    usage = cli("call", env=servers)
    assert usage.returncode == 2 and "the following arguments are required: tool" in usage.stderr

    crashed_at_start = cli("call", "broken__echo", env=servers)
    assert crashed_at_start.returncode == 3
    assert crashed_at_start.stderr.startswith("syncmcp: error: MCP client for `broken` failed to start")
    assert "scripted start-up failure" in crashed_at_start.stderr
    crashed_in_call = cli("call", "s__crash", env=servers)
    assert crashed_in_call.returncode == 3 and "the server exited (exit code 3)" in crashed_in_call.stderr
    slow_call = cli("call", "s__sleep", "--arg", "seconds=30", "--timeout", "0.3", env=servers)
    assert slow_call.returncode == 4 and "timed out after 0.3 s" in slow_call.stderr
    slow_start = cli("call", "slow__echo", env=servers)
    assert slow_start.returncode == 4
    assert slow_start.stderr.startswith("syncmcp: error: MCP client for `slow` timed out after 1 seconds.")

    bad_config = configure(tmp_path / "..", "[mcp_servers.x]\ncomand = 'python'\n")
    invalid = cli("tools", env=bad_config)
    assert invalid.returncode == 2 and "mcp_servers.x.comand: unknown key 'comand' (did you mean 'command'?)" in invalid.stderr
    missing = cli("tools", env={"SYNCMCP_CONFIG": str(tmp_path / "absent.toml")})
    assert missing.returncode == 2 and "configuration file not found" in missing.stderr


def test_listing_every_server_shows_what_works_and_warns_about_the_rest(cli: CLI, servers: Dict[str, str]) -> None:
    started = time.monotonic()
    result = cli("tools", env=servers)
    assert result.returncode == 4  # the worst failure: slow timed out (broken failed)
    assert "s__echo()" in result.stdout and "broken" not in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("syncmcp: ")]
    assert warnings[0].startswith("syncmcp: warning: MCP client for `broken` failed to start")
    assert warnings[1].startswith("syncmcp: warning: MCP client for `slow` timed out after 1 seconds")
    assert time.monotonic() - started < 10  # servers start in parallel


def test_a_listing_that_fails_on_one_server_is_a_warning_and_exit_status_3(cli: CLI, tmp_path: Path) -> None:
    env = configure(
        tmp_path,
        toml_server("good", scripted("--resources"))
        + toml_server("bad", scripted("--resources", "--fail-resources", "--fail-prompts")),
    )
    resources = cli("resources", env=env)
    assert resources.returncode == 3
    assert re.search(r"^good\s+scripted://doc/0\s+doc 0\s+text/plain$", resources.stdout, re.MULTILINE)
    assert "bad " not in resources.stdout
    assert resources.stderr.startswith("syncmcp: warning: Failed to list resources for MCP server 'bad'")
    prompts = cli("prompts", env=env)
    assert prompts.returncode == 3 and re.search(r"^good\s+greet\s+who\s+-$", prompts.stdout, re.MULTILINE)
    assert prompts.stderr.startswith("syncmcp: warning: Failed to list prompts for MCP server 'bad'")
    only_bad = cli("prompts", "bad", "--json", env=env)
    assert only_bad.returncode == 3 and only_bad.stdout == "" and "scripted prompts failure" in only_bad.stderr
    reads = json.loads(cli("read", "good", "scripted://doc/3", "--json", env=env).stdout)
    assert reads["contents"][0]["text"] == "contents of scripted://doc/3"
    assert (
        json.loads(cli("prompt", "good", "greet", "--arg", "who=Ada", "--json", env=env).stdout)["messages"][0]["content"]["text"]
        == "Hello Ada"
    )


def test_doctor_reports_healthy_and_unhealthy_servers(cli: CLI, servers: Dict[str, str]) -> None:
    # The embedded workspace server speaks the 2026-07-28 era, unless the configuration forces one.
    assert [report["era"] for report in json.loads(cli("doctor", "--json").stdout)] == ["modern"]
    forced = cli("-c", "mcp_servers.workspace.protocol_era=legacy", "doctor", "--json")
    assert [(report["era"], report["protocol_version"]) for report in json.loads(forced.stdout)] == [("legacy", "2025-11-25")]
    healthy = cli("doctor", "s", env=servers)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    lines = healthy.stdout.splitlines()
    assert lines[0] == "s: ok"
    assert "  server:       scripted 1.0" in lines and "  protocol:     2025-11-25 (legacy era)" in lines
    assert "  listed:       tools 26, resources 5, templates 1, prompts 1" in lines
    assert "  capabilities: logging, prompts, resources, tools (listChanged)" in lines
    assert re.search(r"^  handshake:    \d", healthy.stdout, re.MULTILINE) and lines[-1] == "1 server healthy."

    everything = cli("doctor", "--json", env=servers)
    assert everything.returncode == 3
    reports = {report["name"]: report for report in json.loads(everything.stdout)}
    assert [reports[name]["healthy"] for name in ("s", "broken", "slow")] == [True, False, False]
    assert reports["s"]["tools"] == 26 and reports["s"]["ping_seconds"] is not None and reports["s"]["era"] == "legacy"
    assert "scripted start-up failure" in reports["broken"]["error"]
    assert reports["slow"]["error"].startswith(
        "MCP client for `slow` timed out after 1 seconds. Add or adjust `startup_timeout_sec`"
    )
    text = cli("doctor", "broken", env=servers)
    assert text.returncode == 3 and text.stdout.splitlines()[0] == "broken: FAILED"
    assert text.stdout.splitlines()[-1] == "1 of 1 servers unhealthy: broken"
    assert cli("doctor", "nope", env=servers).returncode == 2


@pytest.mark.parametrize(("sent", "status", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_cancels_the_running_call_on_the_server_and_exits_130(
    cli: CLI, tmp_path: Path, sent: int, status: int, said: str
) -> None:
    record = tmp_path / "record.txt"
    env = configure(tmp_path, toml_server("s", scripted("--record", str(record))))
    process = cli.popen("call", "s__park", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: record.exists() and "parked" in record.read_text(), timeout=20)
        started = time.monotonic()
        process.send_signal(sent)
        out, err = process.communicate(timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            process.communicate()
    assert (process.returncode, out, err) == (status, "", f"syncmcp: {said}\n")
    assert time.monotonic() - started < 10
    lines = record.read_text().splitlines()
    parked_id = lines[0].split()[1]
    assert f"cancelled {parked_id}" in lines  # the server was told, for that very request
    assert processes_mentioning(str(record)) == []  # and the server is gone


def _read_terminal(master: int, timeout: float) -> bytes:
    """What a pseudo-terminal showed until its program closed it (or ``timeout`` seconds passed)."""
    shown = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    return shown


def _run_on_terminal(cli: CLI, *args: str, env: Dict[str, str]) -> List[str]:
    """Run with stderr on a pseudo-terminal; returns (stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    process = cli.popen(*args, env=env, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    try:
        shown = _read_terminal(master, timeout=30)
        out, _ = process.communicate(timeout=30)
    finally:
        os.close(master)
        if process.returncode is None:
            process.kill()
            process.communicate()
    return [out.decode(), shown.decode()]


def test_progress_is_shown_on_a_terminal_and_never_when_piped_or_with_json(cli: CLI, servers: Dict[str, str]) -> None:
    out, shown = _run_on_terminal(cli, "call", "s__progress", "--arg", "steps=3", env=servers)
    assert out == "progressed\n"
    assert "syncmcp: starting s..." in shown and re.search(r"syncmcp: s ready in \d+\.\d\d s", shown)
    assert "s__progress: 3/3 (100%) step 3" in shown
    assert shown.endswith("\r\x1b[K")  # the progress line is erased at the end
    piped = cli("call", "s__progress", "--arg", "steps=3", env=servers)
    assert (piped.stdout, piped.stderr) == ("progressed\n", "")
    out, shown = _run_on_terminal(cli, "call", "s__progress", "--arg", "steps=3", "--json", env=servers)
    assert json.loads(out)["content"][0]["text"] == "progressed" and shown == ""


def test_wire_logging_is_its_own_switch_beyond_debug(cli: CLI, servers: Dict[str, str]) -> None:
    wire = cli("tools", "s", env={**servers, "SYNCMCP_LOG": "wire"})
    assert wire.returncode == 0
    assert re.search(r"DEBUG +syncmcp\.wire\.s: -> \{'jsonrpc': '2.0', 'id': \d+, 'method': 'tools/list'", wire.stderr)
    assert re.search(r"syncmcp\.wire\.s: <- \{'jsonrpc': '2.0', 'id': \d+, 'result': \{'tools'", wire.stderr)
    debug = cli("tools", "s", env={**servers, "SYNCMCP_LOG": "debug"})
    assert "DEBUG   syncmcp.manager: MCP server 's': starting" in debug.stderr
    assert "syncmcp.wire" not in debug.stderr and "'tools/list'" not in debug.stderr
    by_option = cli("--log-level", "info,wire", "tools", "s", env={**servers, "SYNCMCP_LOG": "error"})
    assert "syncmcp.wire.s" in by_option.stderr and "INFO    syncmcp.manager: MCP server 's' is ready" in by_option.stderr
    quiet = cli("tools", "s", env=servers)
    assert quiet.stderr == "" and quiet.stdout == wire.stdout
    bad = cli("tools", env={**servers, "SYNCMCP_LOG": "loud"})
    assert bad.returncode == 2 and "invalid log level 'loud'" in bad.stderr


def test_verbose_adds_the_traceback_to_the_one_line_error(cli: CLI, servers: Dict[str, str]) -> None:
    plain = cli("call", "s__nope", env=servers)
    assert len(plain.stderr.splitlines()) == 1
    verbose = cli("call", "s__nope", "--verbose", env=servers)
    assert verbose.stderr.startswith("Traceback (most recent call last):")
    assert "UnknownToolError" in verbose.stderr and verbose.stderr.splitlines()[-1] == plain.stderr.strip()


def test_disabled_and_missing_servers_are_usage_errors(cli: CLI, tmp_path: Path) -> None:
    env = configure(tmp_path, toml_server("off", scripted(), enabled=False))
    assert cli("tools", env=env).stderr.startswith("syncmcp: error: every MCP server in")
    assert "is disabled (enabled = false" in cli("call", "off__echo", env=env).stderr
    report = cli("doctor", env=env)
    assert report.returncode == 0 and report.stdout.startswith("off: disabled (enabled = false)")
    empty = configure(tmp_path, "# nothing yet\n")
    assert (
        cli("tools", env=empty).stderr
        == "syncmcp: error: No MCP servers configured yet. Try `syncmcp add my-tool -- my-command`.\n"
    )


def test_help_version_and_the_long_tool_listing(cli: CLI, servers: Dict[str, str]) -> None:
    overview = cli("--help")
    assert overview.returncode == 0
    for command in ("list", "get", "add", "remove", "tools", "call", "resources", "read", "prompts", "prompt", "doctor", "serve"):
        assert re.search(rf"^  {command}\b", overview.stdout, re.MULTILINE), command
    assert "3 server failure" in overview.stdout and "SYNCMCP_LOG" in overview.stdout
    assert cli("help", "call").stdout.startswith("usage: syncmcp call")
    assert cli("add", "--help").stdout.startswith("usage: syncmcp add [OPTIONS] NAME (--url URL | -- COMMAND [ARGS...])")
    assert cli("--version").stdout.startswith("syncmcp ")
    ceiling = cli("serve", "--sandbox", "danger-full-access", "--max-sandbox", "read-only")
    assert ceiling.returncode == 2 and "above the ceiling 'read-only'" in ceiling.stderr
    nothing = cli()
    assert nothing.returncode == 2 and nothing.stderr.startswith("usage: syncmcp")
    typo = cli("tols")
    assert (typo.returncode, typo.stderr) == (
        2,
        "syncmcp: error: unknown command 'tols' (did you mean 'tools'?); see 'syncmcp --help'\n",
    )
    long = cli("tools", "s", "--long", env=servers).stdout.split("\n\n")
    add = next(block for block in long if block.startswith("s__add"))
    assert add.splitlines() == [
        "s__add",
        "  scripted add",
        "  parameters:",
        "    a (number, required)",
        "    b (number, required)",
    ]


def test_an_over_long_qualified_name_reaches_its_server(cli: CLI, tmp_path: Path) -> None:
    tool = "a_tool_with_a_long_name_too_for_the_limit"
    env = configure(tmp_path, toml_server("a-server-with-a-very-long-name", scripted("--tool", tool)))
    names = [entry["qualifiedName"] for entry in json.loads(cli("tools", "--json", env=env).stdout) if entry["name"] == tool]
    assert len(names) == 1 and len(names[0]) == 64 and "__" not in names[0]  # cut and hashed
    called = cli("call", names[0], env=env)
    assert (called.returncode, called.stdout) == (0, f"{tool} called\n")


def test_the_embedded_server_exits_on_end_of_input_without_waiting_for_its_listen_stream(tmp_path: Path) -> None:
    """Every command ends by closing ``syncmcp serve``'s stdin; a 2026-07-28 session keeps a
    ``subscriptions/listen`` request open, which must not hold the server for its drain time
    (the client would wait its shutdown grace, then signal it)."""
    from syncmcp import ClientSession, StdioTransport
    from syncmcp.server._server import DEFAULT_DRAIN_TIMEOUT

    transport = StdioTransport(sys.executable, ["-m", "syncmcp", "serve", "--root", str(tmp_path)], shutdown_grace=30)
    session = ClientSession(transport, name="workspace")
    session.initialize(timeout=20)
    assert session.era == "modern"
    started = time.monotonic()
    session.close()
    assert time.monotonic() - started < DEFAULT_DRAIN_TIMEOUT * 0.75
    assert transport.returncode == 0  # it exited by itself, no signal


@pytest.mark.parametrize(("first", "status", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_more_signals_during_the_clean_up_do_not_break_it_off(
    cli: CLI, tmp_path: Path, first: int, status: int, said: str
) -> None:
    """After the first Ctrl-C or SIGTERM, further ones must not interrupt stopping the servers: a
    server that ignores both SIGTERM and the end of its input is still killed before syncmcp
    exits, and the exit status and message are the first signal's."""
    record = tmp_path / "record.txt"
    env = configure(tmp_path, toml_server("s", scripted("--record", str(record), "--ignore-eof", "--ignore-sigterm")))
    process = cli.popen("call", "s__park", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: record.exists() and "parked" in record.read_text(), timeout=20)
        process.send_signal(first)
        # The request's cancellation reached the server: the clean-up has begun. It lasts the
        # shutdown graces (about 3 s), since this server ignores both EOF and SIGTERM.
        assert wait_until(lambda: "cancelled" in record.read_text(), timeout=10)
        for again in (signal.SIGINT, signal.SIGTERM, signal.SIGINT):
            process.send_signal(again)
        assert processes_mentioning(str(record)), "the server must still be running while syncmcp stops it"
        out, err = process.communicate(timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            process.communicate()
    assert (process.returncode, out) == (status, "")
    assert err == f"syncmcp: warning: MCP server 's' ignored SIGTERM for 2.0 s; SIGKILL\nsyncmcp: {said}\n"
    assert processes_mentioning(str(record)) == []  # stopped before syncmcp exited


#: What the scripted server's --hostile texts are (stdio_server.HOSTILE).
HOSTILE = "harmless\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2K\rlooks fine\x9b31m\x07"


def test_text_from_servers_cannot_drive_the_terminal(cli: CLI, tmp_path: Path) -> None:
    """Control characters in what servers send (OSC 52 sets the clipboard, CSI erases the line) are
    shown escaped in text mode; --json and a result piped to a file stay exact."""
    env = configure(tmp_path, toml_server("s", scripted("--hostile")))
    escaped = "harmless\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x1b[2K\\x0dlooks fine\\x9b31m\\x07"
    listing = cli("tools", "s", env=env)
    line = next(line for line in listing.stdout.splitlines() if line.startswith("s__hostile"))
    first_line = "harmless\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x1b[2K"  # the description's, up to its \r
    assert line.endswith(first_line) and "\x1b" not in listing.stdout and "\x9b" not in listing.stdout
    long = cli("tools", "s", "--long", env=env).stdout
    assert f"s__hostile\n  {first_line}\n  looks fine\\x9b31m\\x07\n" in long and "\x1b" not in long
    listed = json.loads(cli("tools", "s", "--json", env=env).stdout)
    assert next(tool for tool in listed if tool["name"] == "hostile")["description"] == HOSTILE

    piped = subprocess.run(
        cli.argv("call", "s__hostile"), cwd=cli.cwd, env=cli.environment(env), capture_output=True, timeout=60, check=False
    )
    assert (piped.returncode, piped.stdout) == (0, HOSTILE.encode() + b"\n")  # content to a file or pipe is exact
    assert json.loads(cli("call", "s__hostile", "--json", env=env).stdout)["content"][0]["text"] == HOSTILE
    refused = cli("call", "s__hostile", "--arg", "mode=error", env=env)
    assert refused.returncode == 3 and escaped in refused.stderr and "\x1b" not in refused.stderr

    # On a terminal, the result on stdout and the progress message on stderr are escaped.
    master, slave = pty.openpty()
    process = cli.popen("call", "s__hostile", env=env, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    try:
        shown = _read_terminal(master, timeout=30)
        assert process.wait(timeout=30) == 0
    finally:
        os.close(master)
        if process.returncode is None:
            process.kill()
            process.wait()
    text = shown.decode()
    assert f"s__hostile: 1/2 (50%) {escaped}" in text  # the progress line
    assert f"{escaped}\r\n" in text  # the result (the terminal turns \n into \r\n)
    assert "\x1b]" not in text and "\x9b" not in text and "\x07" not in text
    assert text.count("\x1b") == text.count("\x1b[K") > 0  # only syncmcp's own line erasing


def test_nan_infinity_and_unusable_timeouts_are_usage_errors(cli: CLI, servers: Dict[str, str]) -> None:
    cases = [
        (['{"a": NaN, "b": 1}'], "tool arguments are not valid JSON: NaN is not a finite number"),
        (['{"a": 1e400, "b": 1}'], "tool arguments are not valid JSON: 1e400 is not a finite number"),
        (["--arg", "a=Infinity", "--arg", "b=1"], "--arg a: Infinity is not a finite number"),
        (["--arg", "a=[1, -Infinity]", "--arg", "b=1"], "--arg a: -Infinity is not a finite number"),
        (["{}", "--timeout", "inf"], "--timeout must be a number of seconds from 0 to 3.1536e+07 (0: no limit), got inf"),
        (["{}", "--timeout", "nan"], "--timeout must be a number of seconds"),
        (["{}", "--timeout", "1e300"], "--timeout must be a number of seconds"),
        (["{}", "--timeout", "-1"], "--timeout must be a number of seconds"),
    ]
    for args, message in cases:
        result = cli("call", "s__add", *args, env=servers)
        assert (result.returncode, result.stdout) == (2, ""), (args, result.stderr)
        assert result.stderr.startswith(f"syncmcp: error: {message}"), (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1
    # A parameter of no declared type: the message says how to send the text (a string
    # parameter takes it as it is, see test_cli_units).
    untyped = cli("call", "s__echo", "--arg", "text=NaN", env=servers)
    assert untyped.returncode == 2 and untyped.stderr.endswith("""write a JSON string: text='"NaN"'\n""")
    assert cli("call", "s__echo", "--arg", 'text="NaN"', env=servers).stdout == "NaN\n"
    assert cli("call", "s__add", '{"a": 1, "b": 2}', "--timeout", "31536000", env=servers).stdout == "3\n"


def test_a_listing_that_times_out_exits_4_for_prompts_as_for_resources(cli: CLI, tmp_path: Path) -> None:
    silent = ["--hang-method", "resources/list", "--hang-method", "prompts/list"]
    env = configure(
        tmp_path,
        toml_server("good", scripted("--resources")) + toml_server("mute", scripted("--resources", *silent), tool_timeout_sec=1),
    )
    for command in ("prompts", "resources"):
        every = cli(command, env=env)
        assert every.returncode == 4, (command, every.stderr)
        assert every.stderr.startswith(f"syncmcp: warning: Failed to list {command} for MCP server 'mute'")
        assert "timed out after 1 s" in every.stderr and "good" in every.stdout
        one = cli(command, "mute", env=env)
        assert one.returncode == 4, (command, one.stderr)
        assert one.stderr.startswith(f"syncmcp: error: Failed to list {command} for MCP server 'mute'")
