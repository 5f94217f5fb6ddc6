"""The credential file: keys, atomic 0600 writes, locking across threads and processes, corruption."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import List, Optional

import pytest

from syncmcp._credentials import CredentialStore, StoredCredentials
from syncmcp._exceptions import ConfigError

URL = "https://api.test/mcp"
ISSUER = "https://auth.test"


@pytest.fixture(autouse=True)
def credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches the user's data folder."""
    path = tmp_path / "data" / "credentials.json"
    monkeypatch.setenv("SYNCMCP_CREDENTIALS", str(path))
    return path


def entry(issuer: str = ISSUER, url: str = URL, **fields: object) -> StoredCredentials:
    return StoredCredentials(url, issuer, **fields)  # type: ignore[arg-type]


def test_the_store_is_created_readable_by_its_owner_only(credentials_file: Path) -> None:
    store = CredentialStore()
    assert store.path == credentials_file and not credentials_file.exists()
    store.save(entry(access_token="a-token", scopes=("x", "y"), expires_at=123.5))
    assert (credentials_file.stat().st_mode & 0o777) == 0o600
    assert store.load(URL) == entry(access_token="a-token", scopes=("x", "y"), expires_at=123.5)
    assert json.loads(credentials_file.read_text())["version"] == 1
    assert sorted(p.name for p in credentials_file.parent.iterdir()) == ["credentials.json", "credentials.json.lock"]


def test_entries_are_keyed_by_server_url_and_issuer() -> None:
    store = CredentialStore()
    store.save(entry("https://one.test", client_id="c1"))
    store.save(entry("https://two.test", client_id="c2"))
    store.save(entry(url="https://other.test/mcp", client_id="c3"))
    assert store.load(URL, "https://one.test").client_id == "c1"  # type: ignore[union-attr]
    assert store.load(URL).client_id == "c2"  # type: ignore[union-attr]  # the most recently saved
    store.save(entry("https://one.test", client_id="c1b"))
    assert store.load(URL).client_id == "c1b"  # type: ignore[union-attr]
    assert store.load(URL, "https://three.test") is None
    assert len(store.entries()) == 3
    assert store.delete(URL) is True and store.delete(URL) is False
    assert [e.client_id for e in store.entries()] == ["c3"]


def test_update_creates_changes_and_deletes_and_an_empty_store_has_no_file(credentials_file: Path) -> None:
    store = CredentialStore()
    store.update(URL, ISSUER, lambda old: entry(client_id="c") if old is None else None)
    store.update(URL, ISSUER, lambda old: entry(client_id=(old.client_id or "") + "2") if old else None)
    assert store.load(URL).client_id == "c2"  # type: ignore[union-attr]
    assert store.update(URL, ISSUER, lambda old: None) is None
    assert store.load(URL) is None and not credentials_file.exists()
    with pytest.raises(ValueError, match="server_url and issuer"):
        store.update(URL, ISSUER, lambda old: entry("https://elsewhere.test"))


def test_a_transaction_that_raises_writes_nothing() -> None:
    store = CredentialStore()
    store.save(entry(client_id="kept"))
    with pytest.raises(RuntimeError):
        with store.transaction() as txn:
            txn.remove(URL)
            raise RuntimeError("abandon")
    assert store.load(URL).client_id == "kept"  # type: ignore[union-attr]


def test_a_corrupt_file_is_named_on_reads_and_moved_aside_on_writes(
    credentials_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text("{not json")
    credentials_file.chmod(0o600)
    store = CredentialStore()
    with pytest.raises(ConfigError) as caught:
        store.load(URL)
    assert str(credentials_file) in str(caught.value) and "corrupt" in str(caught.value)
    with caplog.at_level(logging.WARNING, logger="syncmcp"):
        store.save(entry(client_id="fresh"))
    assert "corrupt" in caplog.text
    assert store.load(URL).client_id == "fresh"  # type: ignore[union-attr]
    assert any(p.name.startswith("credentials.json.corrupt-") for p in credentials_file.parent.iterdir())


@pytest.mark.parametrize(
    "content",
    [
        '{"credentials": {}}',
        '{"version": 1, "credentials": [{"issuer": "x"}]}',
        '{"version": 1, "credentials": [{"server_url": "u", "issuer": "i", "scopes": "a b"}]}',
        '{"version": 99, "credentials": []}',
    ],
)
def test_malformed_entries_make_the_file_corrupt(credentials_file: Path, content: str) -> None:
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text(content)
    credentials_file.chmod(0o600)
    with pytest.raises(ConfigError, match="corrupt"):
        CredentialStore().entries()


def test_an_unreadable_file_is_an_error_naming_it(credentials_file: Path) -> None:
    credentials_file.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ConfigError, match=str(credentials_file)):
        CredentialStore().load(URL)


def test_fields_of_a_later_version_are_ignored(credentials_file: Path) -> None:
    credentials_file.parent.mkdir(parents=True)
    data = {"version": 1, "credentials": [{"server_url": URL, "issuer": ISSUER, "dpop_key": "x", "client_id": "c"}]}
    credentials_file.write_text(json.dumps(data))
    credentials_file.chmod(0o600)
    assert CredentialStore().load(URL) == entry(client_id="c")


def test_reprs_never_show_tokens_or_secrets() -> None:
    creds = entry(client_id="public-id", client_secret="s3cret", access_token="acc3ss", refresh_token="r3fresh")
    store = CredentialStore.memory()
    store.save(creds)
    text = repr(creds) + repr(store) + repr(CredentialStore()) + str(store.entries())
    assert "public-id" in text and "client_secret=***" in text
    for secret in ("s3cret", "acc3ss", "r3fresh"):
        assert secret not in text


def test_expiry_and_token_helpers() -> None:
    creds = entry(access_token="a", refresh_token="r", expires_at=1000.0)
    assert creds.expires_within(10, now=995.0) and not creds.expires_within(10, now=900.0)
    assert not entry(access_token="a").expires_within(10**9)
    assert creds.without_tokens() == entry()
    assert StoredCredentials.from_json(creds.to_json()) == creds


def test_the_memory_store_never_touches_disk(credentials_file: Path) -> None:
    store = CredentialStore.memory()
    store.save(entry(access_token="a"))
    assert store.path is None and store.load(URL) is not None
    assert not credentials_file.parent.exists()


WRITER = """
import sys
from syncmcp._credentials import CredentialStore, StoredCredentials
store = CredentialStore()
print("ready", flush=True)
sys.stdin.readline()  # "go": start together with the test's threads
for n in range(int(sys.argv[2])):
    store.update(sys.argv[3], "https://auth.test", lambda old: StoredCredentials(
        sys.argv[3], "https://auth.test", scopes=(old.scopes if old else ()) + (f"{sys.argv[1]}-{n}",)))
"""


def test_concurrent_writers_in_threads_and_a_process_lose_no_update(credentials_file: Path) -> None:
    """Every read-modify-write is locked: the final entry holds every writer's every addition, and
    a reader never sees a half-written file."""
    per_writer = 25
    store = CredentialStore()
    store.save(entry(url="https://other.test/mcp", client_id="untouched"))
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, "proc", str(per_writer), URL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline() == "ready\n"
    errors: List[BaseException] = []
    done = threading.Event()

    def write(name: str) -> None:
        try:
            for n in range(per_writer):
                store.update(URL, ISSUER, lambda old, n=n: entry(scopes=(old.scopes if old else ()) + (f"{name}-{n}",)))
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        while not done.is_set():
            try:
                store.entries()
            except BaseException as exc:
                errors.append(exc)
                return

    writers = [threading.Thread(target=write, args=(f"t{i}",), name=f"test-writer-{i}") for i in range(4)]
    reader = threading.Thread(target=read, name="test-reader")
    reader.start()
    child.stdin.write("go\n")
    child.stdin.close()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(30)
    assert child.wait(30) == 0
    child.stdout.close()
    done.set()
    reader.join(5)
    assert errors == []
    final: Optional[StoredCredentials] = store.load(URL)
    assert final is not None and len(final.scopes) == 5 * per_writer == len(set(final.scopes))
    assert store.load("https://other.test/mcp").client_id == "untouched"  # type: ignore[union-attr]
    assert (credentials_file.stat().st_mode & 0o777) == 0o600
    assert not [p for p in credentials_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_the_file_is_created_private_and_refused_when_others_may_read_it(credentials_file: Path) -> None:
    store = CredentialStore()
    store.save(entry(client_id="mine"))
    assert credentials_file.stat().st_mode & 0o777 == 0o600
    credentials_file.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        store.load(URL)
    message = str(caught.value)
    assert str(credentials_file) in message and "mode 0644" in message and "chmod 600" in message
    credentials_file.chmod(0o600)
    assert store.load(URL).client_id == "mine"  # type: ignore[union-attr]
