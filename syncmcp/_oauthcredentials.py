"""The credentials one OAuth configuration holds: in memory, in its store, and their generation.

:class:`HeldCredentials` loads the stored entry on first use, replaces the credentials in use
with a new *generation* (which :class:`~syncmcp._oauthflight.Renewals` compares, so that a
renewal is never started for a token already replaced), takes up a token another process stored
meanwhile (``syncmcp login`` in a terminal), saves new tokens and forgets them on logout.

It shares its owner's lock (which also guards the owner's renewals), holds it only briefly, and
never across the store's I/O. The store is read from the owner at each use. The refresh under
the store's file lock, logins and step-ups belong to :class:`~syncmcp.OAuth`.

Example::

    held = HeldCredentials(oauth, key, lock, describe)
    creds, generation = held.snapshot()
    held.install(new_creds)
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional, Protocol, Sequence, Tuple

from ._credentials import CredentialStore, StoredCredentials
from ._exceptions import ConfigError

__all__ = ["CredentialsOwner", "HeldCredentials"]

logger = logging.getLogger("syncmcp.oauth")


class CredentialsOwner(Protocol):
    """What the held credentials read from their OAuth configuration (at each use)."""

    store: CredentialStore


class HeldCredentials:
    """The credentials in use for one MCP server, loaded from the store on first use.

    Args:
        owner: the configuration (its credential store).
        key: the store's key for the MCP server (its canonical URL).
        lock: the owner's lock, which also guards its renewals (held only briefly).
        describe: ``fn()``: the MCP server, for messages.
    """

    def __init__(self, owner: CredentialsOwner, key: str, lock: threading.Lock, describe: Callable[[], str]) -> None:
        self._owner = owner
        self._key = key
        self._lock = lock
        self._describe = describe
        self._creds: Optional[StoredCredentials] = None
        self._generation = 0
        self._loaded = False

    @property
    def generation(self) -> int:
        """Incremented whenever the credentials in use are replaced (read it under the lock)."""
        return self._generation

    def snapshot(self) -> Tuple[Optional[StoredCredentials], int]:
        """The credentials in use and their generation, loading the stored entry on first use."""
        self._ensure_loaded()
        with self._lock:
            return self._creds, self._generation

    def current(self) -> Optional[StoredCredentials]:
        """The credentials in use, as they are (the store is not read)."""
        with self._lock:
            return self._creds

    def install(self, creds: Optional[StoredCredentials]) -> None:
        """Use ``creds`` from now on: a new generation."""
        with self._lock:
            self._creds = creds
            self._generation += 1
            self._loaded = True

    def at_hand(self) -> Optional[StoredCredentials]:
        """The credentials in use, else those stored when they hold no access token (no wait)."""
        creds, _ = self.snapshot()
        if creds is None or not creds.access_token:
            try:
                creds = self._owner.store.load(self._key)
            except ConfigError:
                creds = None
        return creds

    def forget(self) -> bool:
        """Drop the credentials here and in the store; whether any tokens or entries existed.

        Raises:
            ConfigError: the credential file cannot be changed.
        """
        with self._lock:
            had = self._creds is not None and self._creds.has_tokens
            self._creds = None
            self._generation += 1
            self._loaded = True
        removed = self._owner.store.delete(self._key)
        return had or removed

    def adopt_stored(self, used: Optional[StoredCredentials]) -> bool:
        """Take up a token another process stored meanwhile (``syncmcp login`` in a terminal)."""
        stored = self._stored_other(used)
        if stored is None:
            return False
        self.install(stored)
        return True

    def adopt_stored_scopes(self, challenged: Sequence[str]) -> bool:
        """Take up a stored token with the scopes a 403 asks for, if another process stored one.

        It must differ from the token held, be unexpired, hold every scope held, and cover the
        ``challenged`` scopes (when there are none: hold more than the scopes held).
        """
        held = self.current()
        stored = self._stored_other(held)
        if stored is None:
            return False
        had = set(held.scopes if held is not None else ())
        granted = set(stored.scopes)
        covers = set(challenged) <= granted if challenged else granted > had
        if not (had <= granted and covers):
            return False
        self.install(stored)
        logger.info("using the token stored for %s with scopes %s", self._describe(), " ".join(stored.scopes))
        return True

    def persist(self, creds: StoredCredentials, *, strict: bool) -> None:
        """Save ``creds`` in the store; when that fails, only ``strict`` raises (else a warning).

        Raises:
            ConfigError: ``strict``, and the credential file cannot be written.
        """
        try:
            self._owner.store.save(creds)
        except ConfigError as exc:
            if strict:
                raise
            logger.warning("the OAuth tokens for %s are kept in memory only: %s", self._describe(), exc)

    def _ensure_loaded(self) -> None:
        with self._lock:
            if self._loaded:
                return
        try:
            creds = self._owner.store.load(self._key)
        except ConfigError as exc:
            logger.warning("ignoring stored OAuth credentials for %s: %s", self._describe(), exc)
            creds = None
        with self._lock:
            if not self._loaded:
                self._creds, self._loaded = creds, True

    def _stored_other(self, held: Optional[StoredCredentials]) -> Optional[StoredCredentials]:
        """An unexpired token stored (by another process, say) that is not the one ``held``."""
        try:
            stored = self._owner.store.load(self._key, held.issuer if held is not None else None)
        except ConfigError:
            return None
        if stored is None or not stored.access_token or stored.expires_within(0):
            return None
        if held is not None and stored.access_token == held.access_token:
            return None
        return stored
