"""The workspace server (``syncmcp serve``) in process: tools, sandbox policy, resources, prompts."""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, Iterator, List

import pytest

import syncmcp
from syncmcp import RemoteError, SandboxState
from syncmcp.server.workspace import Workspace, WorkspaceServer, _files
from syncmcp.server.workspace._commands import SYSTEM_DIRECTORIES, ProcessTracker, bubblewrap_argv, find_bubblewrap
from syncmcp.server.workspace._files import NotARegularFile, commit, open_regular
from syncmcp.server.workspace._ignore import IgnoreRules
from syncmcp.server.workspace._info import ProgramOutput, git_info, redact

from .conftest import IN_CI, ROOT, process_alive, processes_with, serve_in_process, wait_until


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "work"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "app.py").write_text("def main():\n    return 1\n")
    (workspace / "README.md").write_text("# Project\n")
    return workspace


@pytest.fixture
def session(root: Path) -> Iterator[syncmcp.ClientSession]:
    with serve_in_process(WorkspaceServer([root]).server) as s:
        yield s


def text(result: Any) -> str:
    return result.text


def update(session: syncmcp.ClientSession, state: SandboxState, *, codex: bool = False) -> None:
    if codex:
        assert session.request("codex/sandbox-state/update", state.to_codex()) == {}
    else:
        assert session.request("syncmcp/sandbox-state/update", state.to_syncmcp()) == {}


@pytest.fixture
def bwrap() -> str:
    """A working bubblewrap. Missing locally: the test is skipped; in CI it fails (tools/run-tests installs it)."""
    found = find_bubblewrap()
    if found is None:
        message = "bubblewrap (bwrap) is missing or cannot create namespaces here; tools/run-tests installs it in CI"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(session: syncmcp.ClientSession, *command: str, **arguments: Any) -> Any:
    """``execute_command`` that must succeed as a tool call; its structured output."""
    result = session.call_tool("execute_command", {"command": list(command), **arguments})
    assert not result.is_error, result.text
    return result.structured_content


_markers = itertools.count(1)


def unique_sleep() -> str:
    """A ``sleep`` duration no other process uses, to find a command's processes by their arguments.

    Inside bubblewrap a command has its own pid namespace: the pids it reports mean nothing here.
    """
    return f"3{next(_markers)}.{os.getpid()}"


# ----------------------------------------------------------------------------------- the server


def test_the_server_declares_both_sandbox_capabilities_and_its_features(session: syncmcp.ClientSession) -> None:
    capabilities = session.server_capabilities
    assert capabilities["experimental"] == {"syncmcp/sandbox-state": {}, "codex/sandbox-state": {}}
    assert {"tools", "resources", "prompts", "completions", "logging"} <= set(capabilities)
    assert session.server_info.name == "syncmcp-workspace"
    tools = {tool.name: tool for tool in session.list_tools()}
    assert sorted(tools) == ["apply_patch", "execute_command", "list_directory", "read_file", "write_file"]
    assert tools["execute_command"].input_schema["required"] == ["command"]
    assert tools["execute_command"].output_schema is not None
    assert tools["read_file"].annotations["readOnlyHint"] is True
    assert tools["write_file"].annotations["destructiveHint"] is True


# ----------------------------------------------------------------------------------- files


def test_read_file_pages_through_lines_and_detects_binary(session: syncmcp.ClientSession, root: Path) -> None:
    (root / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (root / "wide.txt").write_text("x" * 5000 + "\n")
    assert text(session.call_tool("read_file", {"path": "src/app.py"})) == "def main():\n    return 1\n"
    window = session.call_tool("read_file", {"path": "long.txt", "offset": 3, "limit": 2})
    assert [block.text for block in window.content] == ["line 3\nline 4\n", "[lines 3-4 of 10; continue with offset=5]"]
    binary = session.call_tool("read_file", {"path": "image.png"})
    assert not binary.is_error and "binary file (11 bytes, image/png)" in binary.text
    wide = session.call_tool("read_file", {"path": "wide.txt"})
    assert "[line truncated]" in wide.content[0].text and "cut at 2000 characters" in wide.content[1].text
    for arguments, message in [
        ({"path": "missing.txt"}, "does not exist"),
        ({"path": "src"}, "is a folder"),
        ({"path": "long.txt", "offset": 0}, "counts lines from 1"),
        ({"path": "long.txt", "offset": 50}, "past the end"),
    ]:
        result = session.call_tool("read_file", arguments)
        assert result.is_error and message in result.text


def test_write_file_creates_folders_and_replaces_atomically(session: syncmcp.ClientSession, root: Path) -> None:
    assert (
        text(session.call_tool("write_file", {"path": "docs/guide/intro.md", "content": "hello\n"}))
        == "Created docs/guide/intro.md (6 bytes)"
    )
    assert (root / "docs" / "guide" / "intro.md").read_text() == "hello\n"
    assert (
        text(session.call_tool("write_file", {"path": "docs/guide/intro.md", "content": "bye"}))
        == "Overwrote docs/guide/intro.md (3 bytes)"
    )
    refused = session.call_tool("write_file", {"path": "new/x.txt", "content": "", "create_directories": False})
    assert refused.is_error and "does not exist" in refused.text
    assert [p.name for p in (root / "docs" / "guide").iterdir()] == ["intro.md"]  # no temporary files left


def test_list_directory_skips_vcs_folders_and_ignored_files(session: syncmcp.ClientSession, root: Path) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    (root / "build").mkdir()
    (root / "build" / "out.o").write_text("")
    (root / "debug.log").write_text("")
    (root / "keep.log").write_text("")
    (root / "src" / ".gitignore").write_text("generated_*\n")
    (root / "src" / "generated_x.py").write_text("")
    (root / ".hidden").write_text("")
    os.symlink(root / "src", root / "link")
    listing = text(session.call_tool("list_directory", {"depth": 2}))
    assert listing.splitlines() == [
        ".gitignore",
        ".hidden",
        "README.md",
        "keep.log",
        f"link -> {root / 'src'}",
        "src/",
        "src/.gitignore",
        "src/app.py",
    ]
    shallow = text(session.call_tool("list_directory", {"path": "src", "include_hidden": False}))
    assert shallow.splitlines() == ["app.py"]
    capped = text(session.call_tool("list_directory", {"max_entries": 2}))
    assert capped.splitlines() == [".gitignore", ".hidden", "[stopped after 2 entries]"]
    assert session.call_tool("list_directory", {"depth": 11}).is_error


@pytest.mark.parametrize(
    ("lines", "path", "is_dir", "ignored"),
    [
        (["*.pyc"], "a/b/c.pyc", False, True),
        (["/build"], "build", True, True),
        (["/build"], "src/build", True, False),
        (["build/"], "build", False, False),
        (["docs/*.md"], "docs/a.md", False, True),
        (["docs/*.md"], "docs/x/a.md", False, False),
        (["**/cache"], "deep/er/cache", True, True),
        (["logs/**"], "logs/a/b", False, True),
        (["a/**/z"], "a/z", False, True),
        (["*.log", "!keep.log"], "keep.log", False, False),
        (["\\#notes"], "#notes", False, True),
        (["file[0-9].txt"], "file7.txt", False, True),
        (["# comment", ""], "comment", False, False),
    ],
)
def test_gitignore_patterns(lines: List[str], path: str, is_dir: bool, ignored: bool) -> None:
    rules = IgnoreRules.from_lines(Path("/w"), lines)
    assert rules.ignored(Path("/w") / path, is_dir) is ignored


# ----------------------------------------------------------------------------------- commands


def test_execute_command_reports_exit_code_and_both_streams(session: syncmcp.ClientSession, root: Path) -> None:
    result = session.call_tool("execute_command", {"command": ["sh", "-c", "pwd; echo oops >&2; exit 3"]})
    assert not result.is_error
    out = result.structured_content
    assert (out["exit_code"], out["stdout"], out["stderr"], out["timed_out"]) == (3, f"{root}\n", "oops\n", False)
    assert json.loads(result.content[0].text) == out  # mirrored as JSON text
    fed = session.call_tool("execute_command", {"command": ["cat"], "stdin": "from stdin", "cwd": "src"})
    assert fed.structured_content["stdout"] == "from stdin"
    env = session.call_tool("execute_command", {"command": ["sh", "-c", "echo $GREETING"], "env": {"GREETING": "hey"}})
    assert env.structured_content["stdout"] == "hey\n"
    for arguments, message in [
        ({"command": []}, "non-empty array"),
        ({"command": ["definitely-not-a-command-xyz"]}, "command not found"),
        ({"command": ["true"], "cwd": "README.md"}, "is not a folder"),
        ({"command": ["true"], "cwd": ".."}, "outside the roots"),
        ({"command": ["true"], "timeout": 0}, "timeout must be between"),
        ({"command": ["true"], "timeout": 100000}, "timeout must be between"),
    ]:
        refused = session.call_tool("execute_command", arguments)
        assert refused.is_error and message in refused.text, (arguments, refused.text)


def test_output_is_capped_keeping_both_ends_and_marked(root: Path) -> None:
    app = WorkspaceServer([root], max_output=1000, use_os_sandbox=False)  # this Python is not visible inside bubblewrap
    with serve_in_process(app.server) as session:
        program = "import sys; sys.stdout.write('A' * 600 + 'B' * 100000 + 'Z' * 600)"
        out = session.call_tool("execute_command", {"command": [sys.executable, "-c", program]}).structured_content
    assert out["stdout_truncated"] is True and out["stderr_truncated"] is False
    assert out["stdout"].startswith("A" * 500) and out["stdout"].endswith("Z" * 500)
    assert "[... 100200 bytes truncated ...]" in out["stdout"]


def test_a_timeout_kills_the_whole_process_group(root: Path) -> None:
    """Without the OS sandbox (the pids a command reports are this machine's)."""
    script = "sleep 60 & echo $! > bg.pid; sleep 60"
    with serve_in_process(WorkspaceServer([root], use_os_sandbox=False).server) as session:
        result = session.call_tool("execute_command", {"command": ["sh", "-c", script], "timeout": 0.5})
    out = result.structured_content
    assert out["timed_out"] is True and out["exit_code"] == -signal.SIGTERM
    background = int((root / "bg.pid").read_text())
    assert wait_until(lambda: not process_alive(background), timeout=5), "the background child survived the timeout"


def test_cancelling_the_call_kills_the_command(root: Path) -> None:
    app = WorkspaceServer([root], use_os_sandbox=False)
    with serve_in_process(app.server) as session:
        pending = session.submit(
            "tools/call", {"name": "execute_command", "arguments": {"command": ["sh", "-c", "echo $$ > pid; sleep 60"]}}
        )
        assert wait_until(lambda: (root / "pid").exists() and (root / "pid").read_text().strip() != "", timeout=5)
        pid = int((root / "pid").read_text())
        pending.cancel()
        assert wait_until(lambda: not process_alive(pid), timeout=5)


def test_shutdown_ends_running_commands(root: Path) -> None:
    app = WorkspaceServer([root], use_os_sandbox=False)
    with serve_in_process(app.server) as session:
        session.submit(
            "tools/call", {"name": "execute_command", "arguments": {"command": ["sh", "-c", "echo $$ > pid; sleep 60"]}}
        )
        assert wait_until(lambda: (root / "pid").exists() and (root / "pid").read_text().strip() != "", timeout=5)
        pid = int((root / "pid").read_text())
        assert app.tracker.kill_all() == 1
        assert wait_until(lambda: not process_alive(pid), timeout=5)


# ----------------------------------------------------------------------------------- sandbox


def test_traversal_absolute_paths_and_symlink_escapes_are_refused(
    session: syncmcp.ClientSession, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, root / "escape_dir")
    os.symlink(outside / "secret.txt", root / "escape_file")
    os.symlink(root / "README.md", root / "inner_link")
    attempts = [
        ("read_file", {"path": "../outside/secret.txt"}, "leaves the workspace with '..'"),
        ("read_file", {"path": str(outside / "secret.txt")}, "absolute path"),
        ("read_file", {"path": "escape_file"}, "escapes the workspace through a symbolic link"),
        ("read_file", {"path": "escape_dir/secret.txt"}, "symbolic link"),
        ("write_file", {"path": "escape_dir/new.txt", "content": "x"}, "symbolic link"),
        ("write_file", {"path": "src/../../evil.txt", "content": "x"}, "'..'"),
        ("list_directory", {"path": "escape_dir"}, "symbolic link"),
        ("execute_command", {"command": ["ls"], "cwd": "escape_dir"}, "symbolic link"),
        ("apply_patch", {"patch": "*** Begin Patch\n*** Add File: escape_dir/p.txt\n+x\n*** End Patch"}, "symbolic link"),
    ]
    for tool, arguments, message in attempts:
        result = session.call_tool(tool, arguments)
        assert result.is_error, (tool, arguments)
        assert message in result.text, (tool, result.text)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert text(session.call_tool("read_file", {"path": "inner_link"})) == "# Project\n"  # a link inside the root is fine
    with pytest.raises(RemoteError) as caught:
        session.read_resource(f"file://{outside / 'secret.txt'}")
    assert caught.value.code == -32602 and "outside the workspace roots" in caught.value.message


@pytest.mark.parametrize("codex", [False, True], ids=["syncmcp-form", "codex-form"])
def test_sandbox_updates_change_what_is_allowed(session: syncmcp.ClientSession, root: Path, tmp_path: Path, codex: bool) -> None:
    assert not session.call_tool("write_file", {"path": "a.txt", "content": "1"}).is_error  # default: workspace-write
    update(session, SandboxState("read-only", str(root)), codex=codex)
    refused = session.call_tool("write_file", {"path": "a.txt", "content": "2"})
    assert refused.is_error and "read-only" in refused.text
    patch = session.call_tool("apply_patch", {"patch": "*** Begin Patch\n*** Delete File: a.txt\n*** End Patch"})
    assert patch.is_error and "read-only" in patch.text
    command = session.call_tool("execute_command", {"command": ["touch", "made-by-command"]})
    if find_bubblewrap() is None:
        assert command.is_error and "no OS sandbox (bubblewrap)" in command.text
    else:  # inside bubblewrap nothing is writable
        assert command.structured_content["sandbox"] == "bubblewrap" and command.structured_content["exit_code"] != 0
    assert not (root / "made-by-command").exists()
    assert text(session.call_tool("read_file", {"path": "a.txt"})) == "1"  # reading is still allowed
    update(session, SandboxState("workspace-write", str(root / "src"), writable_roots=[str(root / "src")]), codex=codex)
    assert not session.call_tool("write_file", {"path": str(root / "src" / "b.txt"), "content": "b"}).is_error
    narrowed = session.call_tool("write_file", {"path": str(root / "c.txt"), "content": "c"})
    assert narrowed.is_error and "outside the writable roots" in narrowed.text
    update(session, SandboxState("danger-full-access", str(root)), codex=codex)
    elsewhere = tmp_path / "elsewhere.txt"
    assert not session.call_tool("write_file", {"path": str(elsewhere), "content": "free"}).is_error
    assert elsewhere.read_text() == "free"
    config = json.loads(session.read_resource("workspace://config").text)
    assert config["sandbox"]["policy"] == "danger-full-access" and config["sandbox"]["updates_received"] == 3


def test_an_invalid_sandbox_update_is_refused_and_changes_nothing(session: syncmcp.ClientSession) -> None:
    for params in [{"policy": {"type": "everything-goes"}, "cwd": "/"}, {"cwd": "/"}, {"sandboxPolicy": "read-only"}]:
        with pytest.raises(RemoteError) as caught:
            session.request("syncmcp/sandbox-state/update", params)
        assert caught.value.code == -32602
    assert json.loads(session.read_resource("workspace://config").text)["sandbox"]["policy"] == "workspace-write"


def test_the_starting_policy_comes_from_the_constructor(root: Path) -> None:
    with serve_in_process(WorkspaceServer([root], sandbox="read-only").server) as session:
        assert session.call_tool("write_file", {"path": "x", "content": ""}).is_error
    with pytest.raises(ValueError, match="sandbox policy must be one of"):
        WorkspaceServer([root], sandbox="yolo")
    with pytest.raises(ValueError, match="is not a folder"):
        WorkspaceServer([root / "missing"])


def test_bubblewrap_shows_only_the_system_folders_and_the_roots() -> None:
    argv = bubblewrap_argv("/usr/bin/bwrap", "/tmp/w/src", readable=["/tmp/w"], writable=["/tmp/w/src"], network=False)
    triples = list(zip(argv, argv[1:], argv[2:]))
    assert ("--ro-bind", "/", "/") not in triples  # not the whole file system
    sources = {source for option, source, _ in triples if option in ("--ro-bind", "--ro-bind-try", "--bind")}
    assert sources <= {*SYSTEM_DIRECTORIES, os.devnull, "/tmp/w", "/tmp/w/src"}
    pairs = list(zip(argv, argv[1:]))
    # The private /tmp first, then the root inside it, then the writable folder inside the root.
    assert (
        pairs.index(("--tmpfs", "/tmp"))
        < triples.index(("--ro-bind-try", "/tmp/w", "/tmp/w"))
        < triples.index(("--bind", "/tmp/w/src", "/tmp/w/src"))
    )
    assert ("--proc", "/proc") in pairs and ("--dev", "/dev") in pairs
    assert ("--cap-drop", "ALL") in pairs  # root inside could otherwise remount its way out
    assert "--unshare-net" in argv and argv[-3:] == ["--chdir", "/tmp/w/src", "--"]
    assert "--unshare-net" not in bubblewrap_argv("bwrap", "/", readable=[], writable=[], network=True)
    if os.path.isfile("/etc/shadow"):
        assert ("--ro-bind", os.devnull, "/etc/shadow") in triples


# ----------------------------------------------------------------------------------- resources


def test_workspace_files_are_listed_page_by_page_and_read_through_the_template(root: Path) -> None:
    for n in range(150):
        (root / f"f{n:03d}.txt").write_text(f"file {n}")
    (root / "pic.bin").write_bytes(bytes(range(256)))
    with serve_in_process(WorkspaceServer([root]).server) as session:
        first = session.request("resources/list", {})
        assert len(first["resources"]) == 100 and "nextCursor" in first
        resources = session.list_resources()  # every page
        uris = [r.uri for r in resources]
        assert uris[:2] == ["workspace://environment", "workspace://config"]
        assert f"file://{root}/f149.txt" in uris and f"file://{root}/src/app.py" in uris
        assert len(uris) == 2 + 150 + 1 + 2  # fixed resources, the files, pic.bin, README.md and src/app.py
        assert [t.uri_template for t in session.list_resource_templates()] == ["file://{+path}"]
        assert session.read_resource(f"file://{root}/f007.txt").text == "file 7"
        blob = session.read_resource(f"file://{root}/pic.bin").contents[0]
        assert blob.blob is not None and blob.decode() == bytes(range(256))
        with pytest.raises(RemoteError) as missing:
            session.read_resource(f"file://{root}/nope.txt")
        assert missing.value.code == -32002
        completions = session.complete({"type": "ref/resource", "uri": "file://{+path}"}, "path", f"{root}/src/")
        assert completions.values == [f"{root}/src/app.py"]


def test_writes_notify_subscribers_and_the_resource_list(root: Path) -> None:
    app = WorkspaceServer([root])
    changed = threading.Event()
    updated = threading.Event()
    with serve_in_process(app.server, on_list_changed=lambda kind: changed.set()) as session:
        uri = (root / "src" / "app.py").as_uri()
        session.subscribe_resource(uri, lambda _uri: updated.set())
        session.call_tool(
            "apply_patch",
            {"patch": "*** Begin Patch\n*** Update File: src/app.py\n@@\n-    return 1\n+    return 2\n*** End Patch"},
        )
        assert updated.wait(5)
        session.call_tool("write_file", {"path": "brand_new.txt", "content": "x"})
        assert changed.wait(5)
        assert (root / "brand_new.txt").as_uri() in [r.uri for r in session.list_resources()]


def test_git_information_is_a_resource_when_a_root_is_a_repository(root: Path) -> None:
    git = ["git", "-C", str(root), "-c", "user.name=Ada", "-c", "user.email=ada@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first commit"], check=True)
    (root / "README.md").write_text("changed\n")
    (root / "untracked.txt").write_text("")
    with serve_in_process(WorkspaceServer([root]).server) as session:
        info = json.loads(session.read_resource("workspace://git").text)["repositories"][0]
    assert info["branch"] == "main" and info["clean"] is False
    assert {"status": " M", "path": "README.md"} in info["status"]
    assert {"status": "??", "path": "untracked.txt"} in info["status"]
    assert [(entry["author"], entry["subject"]) for entry in info["log"]] == [("Ada", "first commit")]


def test_no_git_resource_outside_a_repository(session: syncmcp.ClientSession) -> None:
    assert "workspace://git" not in [r.uri for r in session.list_resources()]


def test_environment_and_configuration_never_show_secrets(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPER_SECRET_TOKEN", "tok-123456")
    env = {"API_TOKEN": "s3cr3t-value", "DATABASE_URL": "postgres://app:hunter2@db:5432/app", "PAGER": "cat"}
    app = WorkspaceServer([root], env=env, name="mirror of https://bot:ghp_tok@example.com/repo")
    with serve_in_process(app.server) as session:
        environment = session.read_resource("workspace://environment").text
        config = json.loads(session.read_resource("workspace://config").text)
    assert "tok-123456" not in environment and "SUPER_SECRET_TOKEN" not in environment
    facts = json.loads(environment)
    assert facts["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["tools"]["git"].startswith("git version")
    assert config["commands"]["env"] == ["API_TOKEN", "DATABASE_URL", "PAGER"]  # names, never values
    assert config["server"]["name"] == "mirror of https://***@example.com/repo"  # URLs lose their user information
    assert config["roots"] == [str(root)]
    text = json.dumps(config)
    for secret in ("s3cr3t-value", "hunter2", "ghp_tok", "tok-123456", "cat"):
        assert secret not in text, secret


def test_redaction_masks_credential_keys_and_the_user_information_of_urls() -> None:
    assert redact(
        {"nested": [{"url": "https://user:pw@host/x?q=1", "plain": "see http://host/a@b"}], "password": "p", "empty_token": ""}
    ) == {"nested": [{"url": "https://***@host/x?q=1", "plain": "see http://host/a@b"}], "password": "***", "empty_token": ""}


# ----------------------------------------------------------------------------------- prompts


def test_the_four_prompts_embed_the_file_and_complete_their_arguments(session: syncmcp.ClientSession, root: Path) -> None:
    prompts = {p.name: p for p in session.list_prompts()}
    assert sorted(prompts) == ["code_review", "generate_docs", "generate_tests", "refactor"]
    assert [(a.name, a.required) for a in prompts["refactor"].arguments] == [("path", True), ("goal", True)]
    review = session.get_prompt("code_review", {"path": "src/app.py", "focus": "security"})
    instruction, embedded = review.messages
    assert "focusing on security" in instruction.content.text
    assert embedded.content.raw["resource"] == {
        "uri": (root / "src" / "app.py").as_uri(),
        "mimeType": "text/x-python",
        "text": "def main():\n    return 1\n",
    }
    tests = session.get_prompt("generate_tests", {"path": "src/app.py"})
    assert tests.messages[0].content.text.startswith("Write pytest tests for the code in src/app.py.")
    folder = session.get_prompt("generate_docs", {"path": "src"})
    assert "app.py" in folder.messages[1].content.raw["resource"]["text"]
    assert session.complete({"type": "ref/prompt", "name": "code_review"}, "path", "src/").values == ["src/app.py"]
    assert session.complete({"type": "ref/prompt", "name": "code_review"}, "focus", "se").values == ["security"]
    assert session.complete({"type": "ref/prompt", "name": "generate_tests"}, "framework", "j").values == ["jest", "junit"]
    assert "simplify" in session.complete({"type": "ref/prompt", "name": "refactor"}, "goal", "").values
    assert session.complete({"type": "ref/prompt", "name": "generate_docs"}, "style", "n").values == ["numpy"]
    for arguments, message in [({"path": "missing.py"}, "does not exist"), ({"path": "../x"}, "outside the roots")]:
        with pytest.raises(RemoteError) as caught:
            session.get_prompt("code_review", arguments)
        assert caught.value.code == -32602 and message in caught.value.message


def test_several_roots(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (second / "b.txt").write_text("b")
    with serve_in_process(WorkspaceServer([first, second]).server) as session:
        assert text(session.call_tool("read_file", {"path": str(second / "b.txt")})) == "b"
        assert not session.call_tool("write_file", {"path": str(second / "c.txt"), "content": "c"}).is_error
        assert not session.call_tool("write_file", {"path": "a.txt", "content": "a"}).is_error  # relative: the first root
    assert (first / "a.txt").read_text() == "a"


def test_the_default_root_is_the_current_folder_and_the_default_policy_workspace_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = WorkspaceServer()
    assert app.workspace.roots == (tmp_path.resolve(),)
    state = app.workspace.state
    assert (state.policy, state.writable_roots) == ("workspace-write", (str(tmp_path.resolve()),))


# ----------------------------------------------------------------------------------- the operator's ceiling


def test_an_update_above_the_ceiling_is_refused_and_changes_nothing(root: Path, tmp_path: Path) -> None:
    """``max_sandbox`` (``--max-sandbox``): a client cannot lift the operator's policy past it."""
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    app = WorkspaceServer([root], sandbox="read-only", max_sandbox="read-only", use_os_sandbox=False)
    with serve_in_process(app.server) as session:
        for policy in ("danger-full-access", "workspace-write"):
            with pytest.raises(RemoteError) as caught:
                update(session, SandboxState(policy, "/"))
            error = caught.value
            assert error.code == -32602
            assert "ceiling is 'read-only'" in error.message and "--max-sandbox" in error.message
            assert error.data == {"maxSandbox": "read-only", "policy": "read-only", "requested": policy}
        assert session.call_tool("read_file", {"path": str(outside)}).is_error  # still confined to the roots
        assert session.call_tool("write_file", {"path": "x.txt", "content": "x"}).is_error
        update(session, SandboxState("read-only", str(root)))  # at the ceiling: accepted
        config = json.loads(session.read_resource("workspace://config").text)["sandbox"]
    assert (config["policy"], config["max_policy"], config["updates_received"]) == ("read-only", "read-only", 1)
    assert not (root / "x.txt").exists()


def test_the_default_ceiling_lets_a_client_lift_every_limit_and_the_log_says_so(
    root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A host that starts ``serve`` for itself keeps the specified behaviour, but the log names who lifted the policy."""
    outside = tmp_path / "escaped.txt"
    with serve_in_process(WorkspaceServer([root], sandbox="read-only", use_os_sandbox=False).server) as session:
        with caplog.at_level(logging.WARNING, logger="syncmcp.server.workspace"):
            update(session, SandboxState("danger-full-access", "/"))
        assert not session.call_tool("write_file", {"path": str(outside), "content": "x"}).is_error
        config = json.loads(session.read_resource("workspace://config").text)["sandbox"]
    assert outside.read_text() == "x"
    assert config["lifted_by_client"] is True and config["operator_policy"] == "read-only"
    warnings = [r.getMessage() for r in caplog.records if r.name == "syncmcp.server.workspace" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "lifted the sandbox policy to danger-full-access" in warnings[0]
    assert "started this server with read-only" in warnings[0]


def test_full_access_chosen_by_the_operator_is_not_reported_as_lifted(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = WorkspaceServer([root], sandbox="danger-full-access", use_os_sandbox=False)
    with serve_in_process(app.server) as session, caplog.at_level(logging.WARNING, logger="syncmcp.server.workspace"):
        update(session, SandboxState("danger-full-access", str(root)))
        assert json.loads(session.read_resource("workspace://config").text)["sandbox"]["lifted_by_client"] is False
    assert not [r for r in caplog.records if r.name == "syncmcp.server.workspace" and r.levelno >= logging.WARNING]


def test_below_full_access_the_ceiling_keeps_the_network_off_unless_the_operator_allowed_it(root: Path) -> None:
    asking = SandboxState("workspace-write", str(root), writable_roots=[str(root)], network_access=True)
    with serve_in_process(WorkspaceServer([root], max_sandbox="workspace-write", use_os_sandbox=False).server) as session:
        with pytest.raises(RemoteError) as caught:
            update(session, asking)
        assert "network access refused" in caught.value.message
        assert json.loads(session.read_resource("workspace://config").text)["sandbox"]["network_access"] is False
    allowed = WorkspaceServer([root], max_sandbox="workspace-write", network_access=True, use_os_sandbox=False)
    with serve_in_process(allowed.server) as session:
        update(session, asking)


def test_the_starting_policy_must_be_within_the_ceiling(root: Path) -> None:
    with pytest.raises(ValueError, match="above the ceiling"):
        WorkspaceServer([root], sandbox="workspace-write", max_sandbox="read-only")
    with pytest.raises(ValueError, match="sandbox policy must be one of"):
        WorkspaceServer([root], max_sandbox="anything")


# ----------------------------------------------------------------------------------- how commands run


def test_commands_get_the_allow_list_and_the_configured_variables_not_the_server_environment(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPER_SECRET_TOKEN", "tok-123456")
    app = WorkspaceServer([root], env={"CONFIGURED": "yes"}, use_os_sandbox=False)
    with serve_in_process(app.server) as session:
        out = run(session, "env", env={"PER_CALL": "1"})["stdout"]
    variables = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert "SUPER_SECRET_TOKEN" not in variables and "tok-123456" not in out
    assert variables["CONFIGURED"] == "yes" and variables["PER_CALL"] == "1"
    assert variables["PATH"] == os.environ["PATH"]  # from the allow-list


def test_unconfined_commands_say_so_and_require_os_sandbox_refuses_them(root: Path) -> None:
    app = WorkspaceServer([root], use_os_sandbox=False)
    with serve_in_process(app.server) as session:
        out = run(session, "true")
        instructions = session.instructions or ""
    assert out["sandbox"] == "none" and "unconfined" in out["note"]
    assert "runs commands unconfined" in instructions
    strict = WorkspaceServer([root], use_os_sandbox=False, require_os_sandbox=True)
    with serve_in_process(strict.server) as session:
        refused = session.call_tool("execute_command", {"command": ["touch", "made"]})
        instructions = session.instructions or ""
    assert refused.is_error and "--require-os-sandbox" in refused.text
    assert "execute_command is unavailable" in instructions
    assert not (root / "made").exists()


def test_commands_in_the_os_sandbox_carry_no_note(bwrap: str, root: Path) -> None:
    with serve_in_process(WorkspaceServer([root]).server) as session:
        out = run(session, "true")
        instructions = session.instructions or ""
    assert out["sandbox"] == "bubblewrap" and out["note"] is None
    assert "inside an OS sandbox" in instructions and "unconfined" not in instructions


# ----------------------------------------------------------------------------------- the OS sandbox, for real


def test_inside_the_os_sandbox_only_the_writable_roots_are_writable(bwrap: str, root: Path, elsewhere: Path) -> None:
    outside = elsewhere
    scratch = f"syncmcp-scratch-{os.getpid()}"
    with serve_in_process(WorkspaceServer([root]).server) as session:
        update(session, SandboxState("workspace-write", str(root / "src"), writable_roots=[str(root / "src")]))
        escaped = run(session, "sh", "-c", f"echo x > {outside}/new.txt")
        top = run(session, "sh", "-c", "echo x > ../top.txt")
        allowed = run(session, "sh", "-c", "echo x > made.txt")
        private = run(session, "sh", "-c", f"echo x > /tmp/{scratch} && cat /tmp/{scratch}")
    assert escaped["sandbox"] == "bubblewrap" and escaped["exit_code"] != 0
    assert top["exit_code"] != 0 and "Read-only file system" in top["stderr"]
    assert allowed["exit_code"] == 0 and (root / "src" / "made.txt").read_text() == "x\n"
    assert private["stdout"] == "x\n" and not Path("/tmp", scratch).exists()  # a private /tmp
    assert list(outside.iterdir()) == [] and not (root / "top.txt").exists()


@pytest.fixture
def elsewhere() -> Iterator[Path]:
    """A folder outside the roots and outside /tmp (which the sandbox replaces anyway)."""
    folder = Path(tempfile.mkdtemp(prefix="syncmcp-outside-", dir="/var/tmp" if os.access("/var/tmp", os.W_OK) else None))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_inside_the_os_sandbox_files_outside_the_roots_cannot_be_read(bwrap: str, root: Path, elsewhere: Path) -> None:
    (elsewhere / "secret.txt").write_text("secret")
    home = Path.home()
    with serve_in_process(WorkspaceServer([root]).server) as session:
        for policy in ("workspace-write", "read-only"):
            update(session, SandboxState(policy, str(root)))
            secret = run(session, "cat", str(elsewhere / "secret.txt"))
            assert secret["exit_code"] != 0 and "secret" not in secret["stdout"], policy
            assert run(session, "cat", "README.md")["stdout"] == "# Project\n"
            if not any(home == Path(folder) or Path(folder) in home.parents for folder in SYSTEM_DIRECTORIES):
                assert run(session, "ls", str(home))["exit_code"] != 0, policy
            if os.path.isfile("/etc/shadow"):
                assert run(session, "cat", "/etc/shadow")["stdout"] == ""


def test_the_os_sandbox_cuts_the_network_unless_the_policy_allows_it(bwrap: str, root: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("needs bash (its /dev/tcp) to open a connection")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        connect = ["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{listener.getsockname()[1]}"]
        with serve_in_process(WorkspaceServer([root]).server) as session:
            cut = run(session, *connect)
            update(session, SandboxState("workspace-write", str(root), writable_roots=[str(root)], network_access=True))
            allowed = run(session, *connect)
    assert cut["sandbox"] == allowed["sandbox"] == "bubblewrap"
    assert cut["exit_code"] != 0 and allowed["exit_code"] == 0, (cut, allowed)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root keeps capabilities inside bubblewrap")
def test_a_command_run_by_root_cannot_remount_a_read_only_root_writable(bwrap: str, root: Path) -> None:
    if shutil.which("mount") is None:
        pytest.skip("needs mount(8)")
    script = f"mount -o remount,rw,bind {root} {root}; mount -o remount,rw,bind {root}; echo x > {root}/escaped"
    with serve_in_process(WorkspaceServer([root], sandbox="read-only").server) as session:
        out = run(session, "sh", "-c", script)
    assert out["exit_code"] != 0 and not (root / "escaped").exists(), out


def test_a_sandboxed_command_and_its_children_die_on_timeout(bwrap: str, root: Path) -> None:
    marker = unique_sleep()
    with serve_in_process(WorkspaceServer([root]).server) as session:
        pending = session.submit(
            "tools/call",
            {"name": "execute_command", "arguments": {"command": ["sh", "-c", f"sleep {marker} & sleep {marker}"], "timeout": 3}},
        )
        assert wait_until(lambda: len(processes_with(marker)) == 2, timeout=5)
        out = pending.result(timeout=10)["structuredContent"]
    assert out["sandbox"] == "bubblewrap" and out["timed_out"] is True
    assert wait_until(lambda: not processes_with(marker), timeout=5), processes_with(marker)


def test_a_program_the_sandbox_cannot_see_is_reported_as_not_found(bwrap: str, root: Path) -> None:
    with serve_in_process(WorkspaceServer([root]).server) as session:
        missing = session.call_tool("execute_command", {"command": ["definitely-not-a-command-xyz"]})
        hidden = session.call_tool("execute_command", {"command": [sys.executable, "-c", "pass"]})
    assert missing.is_error and "command not found" in missing.text
    if not any(Path(folder) in Path(sys.executable).parents for folder in SYSTEM_DIRECTORIES):
        assert hidden.is_error and "cannot be started inside the OS sandbox" in hidden.text


# ----------------------------------------------------------------------------------- special files


def test_fifos_and_other_special_files_are_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe")
    os.mkfifo(root / ".gitignore")  # read by every listing
    app = WorkspaceServer([root], use_os_sandbox=False)
    with serve_in_process(app.server) as session:
        for tool, arguments in [
            ("read_file", {"path": "pipe"}),
            ("write_file", {"path": "pipe", "content": "x"}),
            ("apply_patch", {"patch": "*** Begin Patch\n*** Update File: pipe\n@@\n-a\n+b\n*** End Patch"}),
            ("apply_patch", {"patch": "*** Begin Patch\n*** Delete File: pipe\n*** End Patch"}),
        ]:
            result = session.call_tool(tool, arguments, timeout=5)
            assert result.is_error and "named pipe (FIFO)" in result.text, (tool, result.text)
        with pytest.raises(RemoteError) as caught:
            session.read_resource((root / "pipe").as_uri(), timeout=5)
        assert caught.value.code == -32602 and "named pipe" in caught.value.message
        with pytest.raises(RemoteError):
            session.get_prompt("code_review", {"path": "pipe"}, timeout=5)
        listing = session.call_tool("list_directory", {}, timeout=5).text
    assert "pipe" in listing.splitlines() and "README.md" in listing.splitlines()
    assert stat.S_ISFIFO(os.stat(root / "pipe").st_mode)  # left as it was


def test_a_fifo_swapped_in_after_the_check_is_still_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check on the open descriptor (O_NONBLOCK, then fstat) closes the race with the path check."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    monkeypatch.setattr(_files, "check_regular", lambda path: None)  # as if it was a file when checked
    outcome: List[BaseException] = []

    def attempt() -> None:
        try:
            open_regular(pipe).close()
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock it so the test can end, then fail
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("opening the FIFO blocked")
    assert len(outcome) == 1 and isinstance(outcome[0], NotARegularFile)


# ----------------------------------------------------------------------------------- commits and links


def test_overwriting_a_large_file_does_not_read_it_into_memory(root: Path) -> None:
    big = root / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(32 * 1024 * 1024)
    tracemalloc.start()
    try:
        commit([(big, b"small\n")])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert big.read_bytes() == b"small\n"
    assert peak < 4 * 1024 * 1024, f"{peak} bytes allocated to overwrite a 32 MiB file"
    assert sorted(p.name for p in root.iterdir()) == ["README.md", "big.bin", "src"]  # no backup left


def test_a_failed_commit_restores_every_file_exactly(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, doomed = root / "README.md", root / "src" / "app.py", root / "src" / "new.txt"
    os.chmod(first, 0o640)
    before = {path: (path.read_bytes(), os.stat(path).st_ino, stat.S_IMODE(os.stat(path).st_mode)) for path in (first, second)}
    real_replace = os.replace

    def failing_replace(source: Any, target: Any) -> None:
        if Path(target).name == doomed.name:  # named through the open folder (/proc/self/fd/N/new.txt)
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        commit([(first, b"changed"), (second, None), (doomed, b"new")])
    monkeypatch.undo()
    after = {path: (path.read_bytes(), os.stat(path).st_ino, stat.S_IMODE(os.stat(path).st_mode)) for path in (first, second)}
    assert after == before  # same content, same inode, same mode
    assert not doomed.exists()
    assert sorted(p.name for p in root.rglob("*")) == ["README.md", "app.py", "src"]


def test_deleting_a_symbolic_link_removes_the_link_not_its_target(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    os.symlink(outside, root / "out_link")
    os.symlink(root / "README.md", root / "in_link")
    with serve_in_process(WorkspaceServer([root], use_os_sandbox=False).server) as session:
        for link in ("out_link", "in_link"):
            patch = f"*** Begin Patch\n*** Delete File: {link}\n*** End Patch"
            result = session.call_tool("apply_patch", {"patch": patch})
            assert not result.is_error and f"D {link}" in result.text, result.text
            assert not os.path.lexists(root / link)
        escaping = session.call_tool("apply_patch", {"patch": "*** Begin Patch\n*** Delete File: ../outside.txt\n*** End Patch"})
    assert escaping.is_error
    assert outside.read_text() == "keep me" and (root / "README.md").read_text() == "# Project\n"


@pytest.mark.parametrize(
    "tool, arguments",
    [
        ("write_file", {"path": "sub/new.txt", "content": "planted"}),
        ("apply_patch", {"patch": "*** Begin Patch\n*** Add File: sub/new.txt\n+planted\n*** End Patch"}),
        ("apply_patch", {"patch": "*** Begin Patch\n*** Update File: sub/doc.txt\n@@\n-inside\n+planted\n*** End Patch"}),
        ("read_file", {"path": "sub/doc.txt"}),
        ("list_directory", {"path": "sub"}),
        ("resource", {"path": "sub/doc.txt"}),
        ("prompt", {"path": "sub/doc.txt"}),
    ],
)
def test_a_folder_replaced_by_a_link_after_the_check_is_not_used(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool: str, arguments: Any
) -> None:
    """A command running meanwhile can swap a checked folder for a link: the path checked is the path used."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "doc.txt").write_text("inside\nSECRET outside\n")  # the update's hunk would apply to it too
    (outside / "private-name.txt").write_text("")
    (root / "sub").mkdir()
    (root / "sub" / "doc.txt").write_text("inside\n")
    checked = Workspace.resolve

    def resolve_then_swap(self: Workspace, path: str, **options: Any) -> Path:
        real = checked(self, path, **options)
        if "sub" in Path(path).parts and not os.path.islink(root / "sub"):
            shutil.rmtree(root / "sub")
            os.symlink(outside, root / "sub")  # what `rm -r sub && ln -s /elsewhere sub` does between two steps
        return real

    monkeypatch.setattr(Workspace, "resolve", resolve_then_swap)
    with serve_in_process(WorkspaceServer([root], use_os_sandbox=False).server) as session:
        if tool == "resource":
            with pytest.raises(RemoteError) as caught:
                session.read_resource((root / arguments["path"]).as_uri())
            shown = caught.value.message
        elif tool == "prompt":
            with pytest.raises(RemoteError) as caught:
                session.get_prompt("code_review", arguments)
            shown = caught.value.message
        else:
            result = session.call_tool(tool, arguments)
            shown = result.text
            assert result.is_error or tool == "list_directory", shown
    assert "SECRET" not in shown and "private-name" not in shown
    assert sorted(p.name for p in outside.iterdir()) == ["doc.txt", "private-name.txt"]
    assert (outside / "doc.txt").read_text() == "inside\nSECRET outside\n"


# ----------------------------------------------------------------------------------- git and processes


def test_reading_git_information_never_runs_a_program_named_by_the_repository(root: Path, tmp_path: Path) -> None:
    """A client that can write ``.git/config`` (workspace-write) must not get a command run, unsandboxed, by the server."""
    git = ["git", "-C", str(root), "-c", "user.name=Ada", "-c", "user.email=ada@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    marker = tmp_path / "ran"
    for key in ("core.fsmonitor", "filter.evil.clean", "filter.evil.process", "gpg.program"):
        subprocess.run([*git, "config", key, f"touch {marker}-{key}; cat"], check=True)
    subprocess.run([*git, "config", "log.showSignature", "true"], check=True)
    (root / ".gitattributes").write_text("* filter=evil\n")
    (root / "README.md").write_text("changed\n")  # a modified file: status would run its clean filter
    with serve_in_process(WorkspaceServer([root], use_os_sandbox=False).server) as session:
        info = json.loads(session.read_resource("workspace://git").text)["repositories"][0]
    assert {"status": " M", "path": "README.md"} in info["status"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("ran")] == []


def git_repository(folder: Path, *, author: str = "Ada", message: str = "first commit") -> Path:
    """``folder`` made a repository (branch main) with everything in it committed by ``author``."""
    folder.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(folder), "-c", f"user.name={author}", "-c", "user.email=a@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", message], check=True)
    return folder


def git_report(app: WorkspaceServer) -> Any:
    with serve_in_process(app.server) as session:
        return json.loads(session.read_resource("workspace://git").text)


@pytest.fixture
def secret_repository(tmp_path: Path) -> Path:
    """A repository outside every root, whose log and changes no client may see."""
    folder = git_repository(tmp_path / "private", author="Mallory Secret", message="private subject")
    (folder / "plans.txt").write_text("untracked private file\n")
    return folder


def test_a_git_file_written_by_the_client_cannot_show_a_repository_outside_the_roots(
    root: Path, tmp_path: Path, secret_repository: Path
) -> None:
    """``<root>/.git`` saying ``gitdir: /elsewhere/.git`` must not reveal that repository's log, authors or status."""
    repository = git_repository(root)
    plain = tmp_path / "plain"
    plain.mkdir()
    app = WorkspaceServer([repository, plain], use_os_sandbox=False)
    with serve_in_process(app.server) as session:
        written = session.call_tool("write_file", {"path": str(plain / ".git"), "content": f"gitdir: {secret_repository}/.git\n"})
        assert not written.is_error, written.text
        text = session.read_resource("workspace://git").text
    assert "Mallory" not in text and "private subject" not in text and "plans.txt" not in text
    by_root = {info["root"]: info for info in json.loads(text)["repositories"]}
    assert by_root[str(repository)]["log"][0]["author"] == "Ada"  # the genuine repository is still described
    refused = by_root[str(plain)]
    assert sorted(refused) == ["refused", "root"]
    assert f"{secret_repository}/.git" in refused["refused"] and "outside the roots" in refused["refused"]
    assert "does not list" in refused["refused"]


def test_a_git_folder_in_the_root_cannot_borrow_the_objects_and_refs_of_a_repository_outside(
    root: Path, secret_repository: Path
) -> None:
    """A ``.git`` folder the client wrote, with ``commondir`` pointing outside and a forged back link, shows nothing."""
    repository = git_repository(root)
    git_folder = repository / ".git"
    (git_folder / "commondir").write_text(f"{secret_repository}/.git\n")
    (git_folder / "gitdir").write_text(f"{git_folder}\n")  # a back link is proof only outside the roots
    text = json.dumps(git_report(WorkspaceServer([repository], use_os_sandbox=False)))
    assert "Mallory" not in text and "private subject" not in text and "plans.txt" not in text
    info = json.loads(text)["repositories"][0]
    assert "refused" in info and f"objects in {secret_repository}/.git" in info["refused"]


def test_a_root_inside_a_checkout_gets_that_checkout_s_information_but_only_its_own_changes(tmp_path: Path) -> None:
    """The operator chose a subfolder of a checkout: its repository is shown, its changes are limited to the root."""
    checkout = tmp_path / "checkout"
    (checkout / "web" / "src").mkdir(parents=True)
    (checkout / "web" / "src" / "app.js").write_text("1\n")
    (checkout / "server.py").write_text("1\n")
    git_repository(checkout)
    (checkout / "web" / "src" / "app.js").write_text("2\n")
    (checkout / "server.py").write_text("2\n")
    (checkout / "notes-outside.txt").write_text("")
    info = git_report(WorkspaceServer([checkout / "web"]))["repositories"][0]
    assert "refused" not in info, info
    assert info["toplevel"] == str(checkout) and info["branch"] == "main"
    assert [entry["subject"] for entry in info["log"]] == ["first commit"]
    assert info["status"] == [{"status": " M", "path": "web/src/app.js"}] and info["clean"] is False


def test_a_linked_work_tree_is_described_and_a_copy_of_its_link_elsewhere_is_refused(tmp_path: Path) -> None:
    main = git_repository(tmp_path / "main")
    linked = tmp_path / "linked"
    subprocess.run(["git", "-C", str(main), "worktree", "add", "-q", "-b", "feature", str(linked)], check=True)
    (linked / "new.txt").write_text("")
    info = git_report(WorkspaceServer([linked]))["repositories"][0]
    assert info["branch"] == "feature" and info["status"] == [{"status": "??", "path": "new.txt"}]
    assert info["log"][0]["subject"] == "first commit"
    forged = tmp_path / "forged"
    forged.mkdir()
    (forged / ".git").write_text((linked / ".git").read_text())  # names the genuine work tree's git folder
    refused = git_report(WorkspaceServer([forged]))["repositories"][0]
    assert "refused" in refused and "log" not in refused


def test_git_never_looks_above_the_checkout_a_root_was_in_when_the_server_started(root: Path, tmp_path: Path) -> None:
    """A repository appearing later above a root (outside every root) is not taken for the root's."""
    repository = git_repository(root)
    outer = tmp_path / "outer"
    (outer / "inner").mkdir(parents=True)
    app = WorkspaceServer([repository, outer / "inner"], use_os_sandbox=False)
    git_repository(outer, author="Later")
    roots = [info["root"] for info in git_report(app)["repositories"]]
    assert roots == [str(repository)]
    # A server started now finds it: the checkout was there at start.
    later = git_report(WorkspaceServer([repository, outer / "inner"], use_os_sandbox=False))["repositories"]
    assert [info["toplevel"] for info in later] == [str(repository), str(outer)]


def test_links_planted_in_a_git_folder_by_a_sandboxed_command_lead_nowhere(
    bwrap: str, root: Path, secret_repository: Path
) -> None:
    """Git runs confined to the roots: a ``.git/objects`` linked outside is a dead link for it."""
    git_repository(root)
    with serve_in_process(WorkspaceServer([root]).server) as session:
        script = (
            f"rm -rf .git/objects .git/refs && ln -s {secret_repository}/.git/objects .git/objects && "
            f"ln -s {secret_repository}/.git/refs .git/refs"
        )
        assert run(session, "sh", "-c", script)["exit_code"] == 0
        text = session.read_resource("workspace://git").text
    assert "Mallory" not in text and "private subject" not in text
    info = json.loads(text)["repositories"][0]
    assert info["clean"] is None and info["log"] == []


def test_a_git_status_that_fails_is_reported_and_never_taken_for_a_clean_tree(root: Path) -> None:
    git_repository(root)
    (root / ".git" / "index").write_bytes(b"DIRCgarbage")  # a corrupt index: git status fails
    info = git_report(WorkspaceServer([root], use_os_sandbox=False))["repositories"][0]
    assert info["clean"] is None and info["status"] == []
    assert "index" in info["status_error"]
    assert info["log"][0]["subject"] == "first commit"  # what git could still say is there


def test_git_errors_are_bounded_and_lose_url_credentials_and_one_deadline_covers_every_step(root: Path) -> None:
    """With a scripted runner: a status that times out, a noisy error, and the time budget shared by all runs."""
    repository = git_repository(root)
    budgets: List[float] = []
    git_folder = str(repository / ".git")

    def runner(argv: Any, cwd: Path, environment: Any, timeout: float, visible: Any) -> ProgramOutput:
        budgets.append(timeout)
        if "--show-toplevel" in argv:
            return ProgramOutput(0, f"true\n{git_folder}\n{git_folder}\n{repository}\n", "")
        if "status" in argv:
            return ProgramOutput(None, "", "", timed_out=True)
        if "log" in argv:
            return ProgramOutput(128, "", "fatal: https://bot:ghp_secret@example.com/x " + "x" * 5000)
        if argv[-1] == "HEAD":
            return ProgramOutput(0, "1" * 40 + "\n", "")
        return ProgramOutput(1, "", "")

    info = git_info(repository, roots=[repository], run=runner, timeout=7.0)
    assert info is not None
    assert info["clean"] is None and info["status_error"] == "git did not finish within 7 seconds"
    assert "ghp_secret" not in info["log_error"] and "https://***@example.com" in info["log_error"]
    assert len(info["log_error"]) < 500
    assert all(0 < budget <= 7.0 for budget in budgets) and budgets == sorted(budgets, reverse=True)


def test_a_missing_readable_folder_is_refused_when_the_server_is_made(root: Path, tmp_path: Path, cli: Any) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(ValueError, match="readable folder .*no-such-folder.* does not exist"):
        WorkspaceServer([root], sandbox_readable=[missing])
    with pytest.raises(ValueError, match="is not a folder"):
        WorkspaceServer([root], sandbox_readable=[root / "README.md"])
    done = cli("serve", "--root", str(root), "--readable", str(missing), input="")
    assert done.returncode == 2, done.stderr
    assert str(missing) in done.stderr and "does not exist" in done.stderr


def test_a_readable_folder_removed_while_the_server_runs_does_not_break_sandboxed_commands(
    bwrap: str, root: Path, elsewhere: Path
) -> None:
    tools = elsewhere / "tools"
    tools.mkdir()
    (tools / "note.txt").write_text("shown\n")
    with serve_in_process(WorkspaceServer([root], sandbox_readable=[tools]).server) as session:
        before = run(session, "cat", str(tools / "note.txt"))
        shutil.rmtree(tools)
        after = run(session, "cat", "README.md")
    assert before["sandbox"] == "bubblewrap" and before["stdout"] == "shown\n"
    assert after["sandbox"] == "bubblewrap" and after["exit_code"] == 0 and after["stdout"] == "# Project\n", after


def test_a_process_that_leaves_the_group_but_holds_the_output_open_does_not_hold_up_the_call(root: Path) -> None:
    """A ``setsid`` child keeps stdout open: it is killed when the command ends; the call does not wait for it."""
    marker = unique_sleep()
    script = f"setsid sh -c 'echo $$ > bg.pid; exec sleep {marker}' & while [ ! -s bg.pid ]; do :; done; echo started"
    with serve_in_process(WorkspaceServer([root], use_os_sandbox=False).server) as session:
        out = run(session, "sh", "-c", script, timeout=60)
    assert out["exit_code"] == 0 and out["stdout"] == "started\n"
    assert out["duration_seconds"] < 15, out
    assert wait_until(lambda: not processes_with(marker), timeout=5), "the escaped process survived the call"


def test_interpreter_exit_waits_for_commands_being_started_and_kills_later_ones() -> None:
    """A command whose start is under way at exit is waited for and killed; one started after the wait, at once."""
    tracker = ProcessTracker()
    release = threading.Event()
    entered = threading.Event()
    started: List[subprocess.Popen[bytes]] = []

    def slow_start() -> subprocess.Popen[bytes]:
        entered.set()
        assert release.wait(10)
        proc = subprocess.Popen(["sleep", unique_sleep()], start_new_session=True)
        started.append(proc)
        return proc

    spawner = threading.Thread(target=tracker.spawn, args=(slow_start,), daemon=True)
    spawner.start()
    assert entered.wait(5)
    threading.Timer(0.2, release.set).start()
    assert tracker.close(time.monotonic() + 10) == 1  # it waited for the start in progress
    spawner.join(5)
    assert started[0].wait(5) == -signal.SIGKILL
    late = tracker.spawn(lambda: subprocess.Popen(["sleep", unique_sleep()], start_new_session=True))
    assert late.wait(5) == -signal.SIGKILL  # started after the exit wait: killed at once


def test_no_command_outlives_the_interpreter(tmp_path: Path) -> None:
    """Commands run on daemon threads; the exit net ends them when the process leaves without shutting down."""
    marker = unique_sleep()
    program = textwrap.dedent(
        f"""
        import sys, threading
        sys.path.insert(0, {str(ROOT)!r})
        from syncmcp.server.workspace._commands import ProcessTracker, run_command
        tracker = ProcessTracker()
        threading.Thread(
            target=run_command,
            args=(["sleep", {marker!r}],),
            kwargs=dict(cwd={str(tmp_path)!r}, timeout=60, tracker=tracker),
            daemon=True,
        ).start()
        sys.stdin.read()  # until the test has seen the command running
        """
    )
    probe = subprocess.Popen([sys.executable, "-c", program], stdin=subprocess.PIPE)
    try:
        assert wait_until(lambda: bool(processes_with(marker)), timeout=10)
    finally:
        assert probe.stdin is not None
        probe.stdin.close()
        assert probe.wait(30) == 0
    assert wait_until(lambda: not processes_with(marker), timeout=5), "a command outlived the interpreter"
