"""The workspace server (``syncmcp serve``) in process: tools, sandbox policy, resources, prompts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, List

import pytest

import syncmcp
from syncmcp import RemoteError, SandboxState
from syncmcp.server.workspace import WorkspaceServer
from syncmcp.server.workspace._commands import bubblewrap_argv, find_bubblewrap
from syncmcp.server.workspace._ignore import IgnoreRules

from .conftest import serve_in_process, wait_until


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
    app = WorkspaceServer([root], max_output=1000)
    with serve_in_process(app.server) as session:
        program = "import sys; sys.stdout.write('A' * 600 + 'B' * 100000 + 'Z' * 600)"
        out = session.call_tool("execute_command", {"command": [sys.executable, "-c", program]}).structured_content
    assert out["stdout_truncated"] is True and out["stderr_truncated"] is False
    assert out["stdout"].startswith("A" * 500) and out["stdout"].endswith("Z" * 500)
    assert "[... 100200 bytes truncated ...]" in out["stdout"]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_timeout_kills_the_whole_process_group(session: syncmcp.ClientSession, root: Path) -> None:
    script = "sleep 60 & echo $! > bg.pid; sleep 60"
    result = session.call_tool("execute_command", {"command": ["sh", "-c", script], "timeout": 0.5})
    out = result.structured_content
    assert out["timed_out"] is True and out["exit_code"] == -signal.SIGTERM
    background = int((root / "bg.pid").read_text())
    assert wait_until(lambda: not _alive(background), timeout=5), "the background child survived the timeout"


def test_cancelling_the_call_kills_the_command(root: Path) -> None:
    app = WorkspaceServer([root])
    with serve_in_process(app.server) as session:
        pending = session.submit(
            "tools/call", {"name": "execute_command", "arguments": {"command": ["sh", "-c", "echo $$ > pid; sleep 60"]}}
        )
        assert wait_until(lambda: (root / "pid").exists() and (root / "pid").read_text().strip() != "", timeout=5)
        pid = int((root / "pid").read_text())
        pending.cancel()
        assert wait_until(lambda: not _alive(pid), timeout=5)


def test_shutdown_ends_running_commands(root: Path) -> None:
    app = WorkspaceServer([root])
    with serve_in_process(app.server) as session:
        session.submit(
            "tools/call", {"name": "execute_command", "arguments": {"command": ["sh", "-c", "echo $$ > pid; sleep 60"]}}
        )
        assert wait_until(lambda: (root / "pid").exists() and (root / "pid").read_text().strip() != "", timeout=5)
        pid = int((root / "pid").read_text())
        assert app.tracker.kill_all() == 1
        assert wait_until(lambda: not _alive(pid), timeout=5)


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


def test_bubblewrap_wraps_commands_read_only_with_only_writable_roots_bound() -> None:
    argv = bubblewrap_argv("/usr/bin/bwrap", "/w/src", writable=["/w"], network=False)
    assert argv[:4] == ["/usr/bin/bwrap", "--ro-bind", "/", "/"]
    assert argv[argv.index("--bind") : argv.index("--bind") + 3] == ["--bind", "/w", "/w"]
    assert "--unshare-net" in argv and argv[-3:] == ["--chdir", "/w/src", "--"]
    assert "--unshare-net" not in bubblewrap_argv("bwrap", "/", writable=[], network=True)


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
    app = WorkspaceServer([root], env={"API_TOKEN": "s3cr3t-value", "PAGER": "cat"})
    with serve_in_process(app.server) as session:
        environment = session.read_resource("workspace://environment").text
        config = json.loads(session.read_resource("workspace://config").text)
    assert "tok-123456" not in environment and "SUPER_SECRET_TOKEN" not in environment
    facts = json.loads(environment)
    assert facts["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["tools"]["git"].startswith("git version")
    assert config["commands"]["env"] == {"API_TOKEN": "***", "PAGER": "cat"}
    assert config["roots"] == [str(root)]
    assert "s3cr3t-value" not in json.dumps(config)


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
