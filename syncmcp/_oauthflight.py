"""One credential renewal at a time for many threads: the others wait for it instead of repeating it.

When several requests find the token refused or expiring at once, the first leads the renewal
(a refresh, a login) and the rest follow it: they wait, bounded, and then use its outcome (the new
token, or its failure). A renewal whose leader went away before it ended (its request was
cancelled) is *abandoned*: nobody refused anything, so a follower with time left renews in its
place. The owner's lock guards the renewal together with the owner's token generation, so that a
request never starts a renewal for a token that was already replaced.

Example::

    renewals = Renewals(lock, generation=lambda: held.generation, describe=lambda: "MCP server 'x'",
                        wait_limit=lambda: 360.0)
    yield from renewals.run(generation, lambda: refresh_flow())
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Generator, Optional, Tuple

from ._exceptions import AuthenticationRequired
from ._login import OAuthError

__all__ = ["Flight", "Renewals"]

logger = logging.getLogger("syncmcp.oauth")

#: A generator-based flow (what the auth flow's steps are).
Flow = Generator[Any, Any, Any]


class Flight:
    """One renewal (refresh or login) that concurrent requests wait for instead of repeating."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Optional[BaseException] = None
        #: The leader went away before the renewal ended (its request was cancelled or its
        #: send failed): nobody refused anything, so a follower may renew in its place.
        self.abandoned = False


class _Abandoned(AuthenticationRequired):
    """The request leading a renewal ended before the renewal did."""


class Renewals:
    """The renewal in progress, if any, of one owner's credentials.

    Args:
        lock: the owner's lock, which also guards its token generation (held only briefly).
        generation: the owner's current token generation (read under ``lock``).
        describe: how to name the server in messages.
        wait_limit: how many seconds a follower waits in all.
    """

    def __init__(
        self,
        lock: threading.Lock,
        *,
        generation: Callable[[], int],
        describe: Callable[[], str],
        wait_limit: Callable[[], float],
    ) -> None:
        self._lock = lock
        self._generation = generation
        self._describe = describe
        self._wait_limit = wait_limit
        self._flight: Optional[Flight] = None

    def join(self, generation: Optional[int]) -> Tuple[Optional[Flight], bool]:
        """The renewal to join, and whether this caller leads it.

        ``(None, False)`` when the token changed since ``generation``: retry with the new one.
        """
        with self._lock:
            if generation is not None and generation != self._generation():
                return None, False
            if self._flight is not None:
                return self._flight, False
            flight = self._flight = Flight()
            return flight, True

    def lead(self) -> Flight:
        """Wait for any running renewal, then lead one (explicit logins).

        Raises:
            AuthenticationRequired: another renewal did not end within the wait limit.
        """
        limit = self._wait_limit()
        deadline = time.monotonic() + limit
        while True:
            flight, leader = self.join(None)
            assert flight is not None
            if leader:
                return flight
            if not flight.done.wait(max(0.0, deadline - time.monotonic())):
                raise AuthenticationRequired(f"gave up waiting {limit:g} s for another login to {self._describe()}")

    def wait(self, flight: Flight, deadline: float) -> None:
        """Wait until ``deadline`` (``time.monotonic()``) for ``flight``; raise its failure.

        Returns when it succeeded, or was abandoned by its leader with time left to renew.
        """
        if not flight.done.wait(max(0.0, deadline - time.monotonic())):
            raise AuthenticationRequired(
                f"gave up waiting {self._wait_limit():g} s for another request's login to {self._describe()}"
            )
        error = flight.error
        if flight.abandoned and time.monotonic() < deadline:
            return
        if isinstance(error, OAuthError):
            description = error.error_description
            raise OAuthError(
                str(error), error=error.error, error_description=description, status=error.status, url=error.url
            ) from error
        if isinstance(error, AuthenticationRequired):
            raise AuthenticationRequired(str(error), status=error.status, url=error.url) from error
        if error is not None:
            raise AuthenticationRequired(f"logging in to {self._describe()} failed: {error or type(error).__name__}") from error

    def land(self, flight: Flight, error: Optional[BaseException]) -> None:
        """End ``flight``: ``error`` is why it failed (``None``: it succeeded).

        An error that is no ``Exception`` (``GeneratorExit``: the leading request's flow was
        closed because its request was cancelled or failed; ``KeyboardInterrupt``) abandons it:
        nobody refused anything, and a follower may renew in its place.
        """
        abandoned = error is not None and not isinstance(error, Exception)
        if abandoned:
            reason = "cancelled" if isinstance(error, GeneratorExit) else f"interrupted ({type(error).__name__})"
            error = _Abandoned(f"the request renewing the credentials for {self._describe()} was {reason} before it finished")
        with self._lock:
            if self._flight is flight:
                self._flight = None
        flight.error = error
        flight.abandoned = abandoned
        flight.done.set()

    def run(self, generation: int, operation: Callable[[], Flow]) -> Flow:
        """Run ``operation`` as the one renewal for ``generation``, or wait for the one running.

        A follower waits the wait limit in all; when the leader is cancelled before the renewal
        ends, the follower runs ``operation`` itself (or follows whoever leads now).
        """
        deadline = time.monotonic() + self._wait_limit()
        while True:
            flight, leader = self.join(generation)
            if flight is None:
                return
            if leader:
                break
            self.wait(flight, deadline)
            if not flight.abandoned:
                return
            logger.debug("%s; renewing them for another request", flight.error)
        try:
            yield from operation()
        except BaseException as exc:
            self.land(flight, exc)
            raise
        self.land(flight, None)
