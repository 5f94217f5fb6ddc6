"""The listing cache shared by concurrent readers: who fetches, who waits, and whose errors are whose."""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Tuple

import pytest

from syncmcp import RemoteError, RequestTimeout
from syncmcp._listcache import ListCache

from .conftest import wait_until


class GatedFetch:
    """A fetch that blocks until released and then returns or raises what it was told."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self) -> Tuple[List[Any], Optional[float]]:
        self.calls += 1
        self.started.set()
        assert self.release.wait(10)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return list(self.outcome), None


def in_thread(target: Any, *args: Any) -> Tuple[threading.Thread, Dict[str, Any]]:
    box: Dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = target(*args)
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def waiting_on_a_future(thread: threading.Thread) -> bool:
    """Whether ``thread`` is parked in the cache (a joined fetch), judged by its frame."""
    import sys

    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_name == "get" and "ListCache" in repr(frame.f_locals.get("self")):
            return "future" in frame.f_locals and not frame.f_locals.get("owner", True)
        frame = frame.f_back
    return False


def test_a_refresh_never_returns_a_fetch_that_started_before_it() -> None:
    cache = ListCache()
    old = GatedFetch(["v1"])
    first, first_box = in_thread(cache.get, old, 10.0, False)
    assert old.started.wait(5)
    # The server changed its list meanwhile: the refresh must fetch again, not join the old fetch.
    new = GatedFetch(["v2"])
    second, second_box = in_thread(cache.get, new, 10.0, True)
    assert new.started.wait(5), "the refresh joined the fetch that started before it"
    new.release.set()
    old.release.set()
    first.join(5)
    second.join(5)
    assert first_box["value"] == ["v1"] and second_box["value"] == ["v2"]
    assert cache.peek() == ["v2"]  # the older fetch, finishing last, does not overwrite the newer one
    assert cache.get(GatedFetch(RuntimeError("must not fetch")), 1.0, False) == ["v2"]


def test_readers_of_an_unchanged_list_share_one_fetch() -> None:
    cache = ListCache()
    fetch = GatedFetch(["a"])
    threads = [in_thread(cache.get, fetch, 10.0, False) for _ in range(4)]
    assert fetch.started.wait(5)
    assert wait_until(lambda: sum(waiting_on_a_future(thread) for thread, _ in threads) == 3)
    fetch.release.set()
    for thread, box in threads:
        thread.join(5)
        assert box["value"] == ["a"]
    assert fetch.calls == 1


def test_the_owners_timeout_does_not_fail_a_reader_with_time_left() -> None:
    cache = ListCache()
    short = GatedFetch(RequestTimeout("tools/list to 'x' timed out after 0.3 s", timeout=0.3))
    owner, owner_box = in_thread(cache.get, short, 0.3, False)
    assert short.started.wait(5)
    patient = GatedFetch(["tools"])
    patient.release.set()
    reader, reader_box = in_thread(cache.get, patient, 30.0, False)
    assert wait_until(lambda: waiting_on_a_future(reader))
    short.release.set()
    owner.join(5)
    reader.join(5)
    assert isinstance(owner_box["error"], RequestTimeout)
    assert reader_box["value"] == ["tools"] and patient.calls == 1  # it fetched again, with its own budget


def test_a_server_error_is_shared_and_a_readers_own_timeout_names_its_own_budget() -> None:
    cache = ListCache()
    failing = GatedFetch(RemoteError(-32603, "boom"))
    owner, owner_box = in_thread(cache.get, failing, 10.0, False)
    assert failing.started.wait(5)
    unused = GatedFetch(["never"])
    reader, reader_box = in_thread(cache.get, unused, 10.0, False)
    assert wait_until(lambda: waiting_on_a_future(reader))
    failing.release.set()
    owner.join(5)
    reader.join(5)
    assert owner_box["error"] is reader_box["error"] and unused.calls == 0

    slow = GatedFetch(["late"])
    owner, _ = in_thread(cache.get, slow, 10.0, False)
    assert slow.started.wait(5)
    with pytest.raises(RequestTimeout, match="after 0.2 s waiting for a concurrent fetch"):
        cache.get(GatedFetch(["never"]), 0.2, False)
    slow.release.set()
    owner.join(5)
