"""Patches: parsing both formats, applying hunks in memory, and all-or-nothing writes on disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from syncmcp.server import ToolError
from syncmcp.server.workspace import WorkspaceServer
from syncmcp.server.workspace._files import commit
from syncmcp.server.workspace._patch import AddFile, DeleteFile, PatchError, UpdateFile, parse_patch, plan

APP = "import os\n\n\ndef main():\n    print('hi')\n    return 0\n\n\ndef helper():\n    return 1\n"


def apply(files: Dict[str, str], patch: str) -> Dict[str, Optional[str]]:
    """The files after the patch, as ``plan`` computes them (``None``: deleted)."""
    result: Dict[str, Optional[str]] = dict(files)
    for change in plan(parse_patch(patch), files.get):
        if change.action == "D":
            result[change.path] = None
        elif change.new_path is not None:
            result[change.path] = None
            result[change.new_path] = change.new_text
        else:
            result[change.path] = change.new_text
    return {key: value for key, value in result.items() if value != files.get(key)}


# ----------------------------------------------------------------------------------- parsing


def test_codex_envelope_parses_every_operation() -> None:
    ops = parse_patch(
        "*** Begin Patch\n"
        "*** Add File: docs/new.md\n+# Title\n+body\n"
        "*** Delete File: old.txt\n"
        "*** Update File: src/app.py\n*** Move to: src/main.py\n@@ def main():\n-    print('hi')\n+    print('hello')\n*** End of File\n"
        "*** End Patch\n"
    )
    assert ops[0] == AddFile("docs/new.md", "# Title\nbody\n")
    assert ops[1] == DeleteFile("old.txt")
    update = ops[2]
    assert isinstance(update, UpdateFile)
    assert (update.path, update.move_to) == ("src/app.py", "src/main.py")
    assert update.chunks[0].context == "def main():"
    assert update.chunks[0].old == ("    print('hi')",)
    assert update.chunks[0].new == ("    print('hello')",)
    assert update.chunks[0].end_of_file is True


def test_a_heredoc_wrapper_is_tolerated() -> None:
    ops = parse_patch("apply_patch <<'EOF'\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEOF\n")
    assert ops == [DeleteFile("a")]


def test_unified_diff_parses_git_headers_renames_adds_and_deletes() -> None:
    ops = parse_patch(
        "diff --git a/src/app.py b/src/app.py\nindex 1..2 100644\n--- a/src/app.py\n+++ b/src/app.py\n"
        "@@ -4,2 +4,2 @@ import os\n def main():\n-    print('hi')\n+    print('hello')\n"
        "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
        "diff --git a/x.txt b/y.txt\nsimilarity index 100%\nrename from x.txt\nrename to y.txt\n"
    )
    assert [type(op).__name__ for op in ops] == ["UpdateFile", "AddFile", "DeleteFile", "UpdateFile"]
    assert ops[0].path == "src/app.py" and ops[0].hunks[0].old_start == 4  # type: ignore[union-attr]
    assert ops[1] == AddFile("new.txt", "a\nb\n")
    assert ops[2] == DeleteFile("gone.txt")
    assert ops[3] == UpdateFile("x.txt", "y.txt")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("", "empty"),
        ("hello world", "not a patch"),
        ("*** Begin Patch\n*** Add File: a\n+x\n", "must end with '\\*\\*\\* End Patch'"),
        ("*** Begin Patch\n*** Frobnicate: a\n*** End Patch", "line 2: expected"),
        ("*** Begin Patch\n*** Update File: a\n*** End Patch", "has no hunks"),
        ("*** Begin Patch\n*** Update File: a\n@@\n?bad\n*** End Patch", "must start with ' ', '-' or '\\+'"),
        ("*** Begin Patch\n*** End Patch", "changes no file"),
        ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n", "malformed"),
        ("--- a/x\n+++ b/x\n@@ nonsense @@\n", "malformed hunk header"),
        ("--- a/x\n+++ b/x\nBinary files a/x and b/x differ\n", "no hunks"),
        ("diff --git a/x b/x\nGIT binary patch\n", "binary patches are not supported"),
    ],
)
def test_malformed_patches_are_refused_with_a_clear_error(patch: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        parse_patch(patch)


# ----------------------------------------------------------------------------------- applying


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (  # context header finds the function, the hunk is searched from there
            "*** Begin Patch\n*** Update File: app.py\n@@ def helper():\n-    return 1\n+    return 2\n*** End Patch",
            {"app.py": APP.replace("return 1", "return 2")},
        ),
        (  # first hunk without @@, and two hunks in order
            "*** Begin Patch\n*** Update File: app.py\n-import os\n+import sys\n@@\n def main():\n-    print('hi')\n+    print('bye')\n*** End Patch",
            {"app.py": APP.replace("import os", "import sys").replace("print('hi')", "print('bye')")},
        ),
        (  # trailing whitespace in the patch's context is tolerated
            "*** Begin Patch\n*** Update File: app.py\n@@\n def main():   \n-    print('hi')\n+    pass\n*** End Patch",
            {"app.py": APP.replace("    print('hi')\n", "    pass\n")},
        ),
        (  # typographic quotes fold to ASCII
            "*** Begin Patch\n*** Update File: app.py\n@@\n-    print(\u2018hi\u2019)\n+    print('x')\n*** End Patch",
            {"app.py": APP.replace("print('hi')", "print('x')")},
        ),
        (  # End of File anchors at the end
            "*** Begin Patch\n*** Update File: app.py\n@@\n-    return 1\n+    return 1\n+# end\n*** End of File\n*** End Patch",
            {"app.py": APP + "# end\n"},
        ),
        (  # move and delete
            "*** Begin Patch\n*** Update File: app.py\n*** Move to: main.py\n@@\n-import os\n+import re\n*** Delete File: notes.txt\n*** End Patch",
            {"app.py": None, "main.py": APP.replace("import os", "import re"), "notes.txt": None},
        ),
        (  # unified diff with an offset: the file gained lines since the diff was made
            "--- a/app.py\n+++ b/app.py\n@@ -7,3 +7,3 @@\n \n def helper():\n-    return 1\n+    return 3\n",
            {"app.py": APP.replace("return 1", "return 3")},
        ),
        (  # unified diff: no newline at end of file
            "--- a/notes.txt\n+++ b/notes.txt\n@@ -1,2 +1,2 @@\n first\n-second\n+2nd\n\\ No newline at end of file\n",
            {"notes.txt": "first\n2nd"},
        ),
    ],
)
def test_patches_compute_the_new_texts(patch: str, expected: Dict[str, Optional[str]]) -> None:
    files = {"app.py": APP, "notes.txt": "first\nsecond\n"}
    assert apply(files, patch) == expected


def test_crlf_files_stay_crlf() -> None:
    files = {"w.txt": "a\r\nb\r\n"}
    assert apply(files, "*** Begin Patch\n*** Update File: w.txt\n@@\n-b\n+c\n*** End Patch") == {"w.txt": "a\r\nc\r\n"}
    assert apply(files, "--- a/w.txt\n+++ b/w.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n") == {"w.txt": "a\r\nc\r\n"}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            "*** Begin Patch\n*** Update File: app.py\n@@\n-    print('hi')\n+    x\n@@\n-    nowhere\n+    y\n*** End Patch",
            "hunk 2 of app.py does not apply",
        ),
        (
            "*** Begin Patch\n*** Update File: app.py\n@@ def missing():\n-    return 1\n+    return 2\n*** End Patch",
            "hunk 1 of app.py does not apply: the line 'def missing\\(\\):'",
        ),
        ("*** Begin Patch\n*** Update File: ghost.py\n@@\n-a\n+b\n*** End Patch", "cannot update ghost.py: it does not exist"),
        ("*** Begin Patch\n*** Add File: app.py\n+x\n*** End Patch", "cannot add app.py: it already exists"),
        ("*** Begin Patch\n*** Delete File: ghost.py\n*** End Patch", "cannot delete ghost.py"),
        (
            "--- a/app.py\n+++ b/app.py\n@@ -1,1 +1,1 @@\n-import nothing\n+import sys\n",
            "hunk 1 of app.py \\(@@ -1,1 \\+1,1 @@\\) does not apply",
        ),
        ("--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-import os\n+import re\n@@ -5 +5 @@\n-    gone\n+    x\n", "hunk 2 of app.py"),
    ],
)
def test_a_hunk_that_does_not_apply_is_named(patch: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        plan(parse_patch(patch), {"app.py": APP}.get)


# ----------------------------------------------------------------------------------- on disk


@pytest.fixture
def app(tmp_path: Path) -> WorkspaceServer:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(APP)
    (tmp_path / "notes.txt").write_text("first\nsecond\n")
    return WorkspaceServer([tmp_path])


def snapshot(root: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "patch",
    [
        # Codex: the add, the delete and the first update are fine; the second file's hunk fails.
        "*** Begin Patch\n*** Add File: docs/new.md\n+new\n*** Delete File: notes.txt\n"
        "*** Update File: src/app.py\n@@\n-import os\n+import sys\n"
        "*** Update File: src/app.py\n@@\n-    not in the file\n+    x\n*** End Patch",
        # Unified: the first file applies, the second file's second hunk does not.
        "--- /dev/null\n+++ b/docs/new.md\n@@ -0,0 +1 @@\n+new\n"
        "--- a/notes.txt\n+++ b/notes.txt\n@@ -1,2 +1,2 @@\n first\n-second\n+2nd\n"
        "--- a/src/app.py\n+++ b/src/app.py\n@@ -1 +1 @@\n-import os\n+import sys\n@@ -9,2 +9,2 @@\n def helper():\n-    return 99\n+    return 2\n",
    ],
    ids=["codex", "unified"],
)
def test_a_failing_later_hunk_changes_no_file(app: WorkspaceServer, patch: str) -> None:
    root = app.workspace.roots[0]
    before = snapshot(root)
    with pytest.raises(ToolError, match="patch not applied, no file changed: hunk"):
        app.apply_patch(patch)
    assert snapshot(root) == before
    assert not (root / "docs").exists()


def test_a_successful_patch_reports_every_file(app: WorkspaceServer) -> None:
    root = app.workspace.roots[0]
    summary = app.apply_patch(
        "*** Begin Patch\n*** Add File: docs/new.md\n+new\n*** Delete File: notes.txt\n"
        "*** Update File: src/app.py\n*** Move to: src/main.py\n@@\n-import os\n+import sys\n*** End Patch"
    )
    assert summary == "Success. Updated the following files:\nA docs/new.md\nD notes.txt\nM src/main.py (moved from src/app.py)"
    assert (root / "docs" / "new.md").read_text() == "new\n"
    assert not (root / "notes.txt").exists() and not (root / "src" / "app.py").exists()
    assert (root / "src" / "main.py").read_text().startswith("import sys\n")


def test_patch_paths_go_through_the_sandbox(app: WorkspaceServer, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    for patch in [
        "*** Begin Patch\n*** Add File: ../escape.txt\n+x\n*** End Patch",
        f"*** Begin Patch\n*** Add File: {outside}\n+x\n*** End Patch",
        "--- a/../x\n+++ b/../x\n@@ -0,0 +1 @@\n+x\n",
    ]:
        with pytest.raises(ToolError, match="outside the roots|outside the workspace roots"):
            app.apply_patch(patch)
    assert not outside.exists()


def test_patches_refuse_binary_files(app: WorkspaceServer) -> None:
    (app.workspace.roots[0] / "blob.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ToolError, match="binary file"):
        app.apply_patch("*** Begin Patch\n*** Update File: blob.bin\n@@\n-x\n+y\n*** End Patch")


def test_commit_restores_everything_when_a_step_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, third = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "new" / "c.txt"
    first.write_text("a")
    second.write_text("b")
    os.chmod(first, 0o640)
    real_replace = os.replace
    calls: List[str] = []

    def failing_replace(source: str, target: str) -> None:
        calls.append(str(target))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        commit([(first, b"A"), (third, b"C"), (second, None)])
    assert first.read_text() == "a" and oct(first.stat().st_mode & 0o777) == "0o640"
    assert second.read_text() == "b"
    assert not third.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temporary files left


def test_commit_keeps_permissions_of_replaced_files(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o755)
    commit([(script, b"#!/bin/sh\necho hi\n")])
    assert script.stat().st_mode & 0o777 == 0o755


def test_two_spellings_of_one_file_are_one_file(app: WorkspaceServer) -> None:
    root = app.workspace.roots[0]
    summary = app.apply_patch(
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n-first\n+1st\n*** Update File: ./src/../notes.txt\n@@\n-second\n+2nd\n*** End Patch"
    )
    assert summary == "Success. Updated the following files:\nM notes.txt"
    assert (root / "notes.txt").read_text() == "1st\n2nd\n"
