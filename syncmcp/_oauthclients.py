"""Which client this application is at an OAuth authorization server, and how it authenticates.

For a login the client is, in order: the configured ``client_id`` (with its secret, or a private
key for ``private_key_jwt``); a registration stored for this issuer; the Client ID Metadata
Document URL, when the authorization server supports it; Dynamic Client Registration (RFC 7591),
whose result is stored at once (its secret with it: nobody configured one). A refresh uses the
client that obtained the stored tokens. When nobody chose the token endpoint authentication, it
is what the server's metadata offers for this client (RFC 8414's default: ``client_secret_basic``).

The stored registrations live in the OAuth configuration's :class:`~syncmcp.CredentialStore`;
nothing else is kept here. Client secrets never appear in a repr or a message.

Example::

    clients = Clients(oauth, key, client_secret, describe)
    client = yield from clients.for_login(discovery, authorizer.redirect_uri, held=None)
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, Tuple

from ._credentials import CredentialStore, StoredCredentials
from ._exceptions import ConfigError
from ._httpwire import Headers, HttpRequest, redact_url
from ._login import OAuthError
from ._oauthdiscovery import AuthServer, Discovery, Flow, read_json, server_error
from ._urls import is_loopback

__all__ = ["AUTH_METHODS", "SECRET_METHODS", "Client", "ClientOwner", "Clients", "choose_auth_method"]

logger = logging.getLogger("syncmcp.oauth")

#: Client authentication methods at a token endpoint (RFC 6749 §2.3, RFC 7523).
AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
#: ... those that send a client secret.
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class Client:
    """A client identity at an authorization server (its secret hidden from the repr)."""

    client_id: str
    client_secret: Optional[str] = field(default=None, repr=False)
    auth_method: str = "none"
    redirect_uri: Optional[str] = None
    registered: bool = False  # by dynamic registration here: its secret is kept in the store


def choose_auth_method(configured: Optional[str], supported: Optional[Tuple[str, ...]], has_secret: bool) -> str:
    """Token endpoint authentication: configured, else what the server supports for this client."""
    if configured:
        return configured
    if not has_secret:
        return "none"
    if supported is None:
        return "client_secret_basic"  # RFC 8414's default
    for method in (*SECRET_METHODS, "none"):
        if method in supported:
            return method
    return "client_secret_basic"


def _registration_auth_method(supported: Optional[Tuple[str, ...]]) -> str:
    """Ask for a public client unless the server supports only secret-based methods."""
    if supported is None or "none" in supported:
        return "none"
    return next((method for method in SECRET_METHODS if method in supported), "none")


def _application_type(redirect_uri: str) -> str:
    """``native`` for a loopback or custom-scheme redirect (RFC 8252), else ``web``."""
    scheme = urllib.parse.urlsplit(redirect_uri).scheme.lower()
    return "native" if is_loopback(redirect_uri) or scheme not in ("http", "https") else "web"


class ClientOwner(Protocol):
    """What client identification reads from its OAuth configuration (at each use)."""

    server_name: Optional[str]
    store: CredentialStore
    client_id: Optional[str]
    token_endpoint_auth_method: Optional[str]
    client_metadata_url: Optional[str]
    client_name: str


class Clients:
    """The client identities of one OAuth configuration: configured, stored, CIMD or registered.

    Args:
        owner: the configuration (its client settings and credential store).
        key: the store's key for the MCP server (its canonical URL).
        client_secret: the configured client's secret (never copied to the store).
        describe: ``fn()``: the MCP server, for messages.
    """

    def __init__(self, owner: ClientOwner, key: str, client_secret: Optional[str], describe: Callable[[], str]) -> None:
        self._owner = owner
        self._key = key
        self._client_secret = client_secret
        self._describe = describe

    def configured(self, server: AuthServer, redirect_uri: Optional[str]) -> Client:
        """The configured ``client_id``, authenticating as configured or as ``server`` supports."""
        owner = self._owner
        assert owner.client_id is not None
        method = choose_auth_method(owner.token_endpoint_auth_method, server.auth_methods, bool(self._client_secret))
        return Client(owner.client_id, self._client_secret, method, redirect_uri)

    def of(self, creds: StoredCredentials) -> Client:
        """The client that obtained ``creds`` (configured secrets are not copied to the store)."""
        configured = creds.client_id == self._owner.client_id
        secret = creds.client_secret or (self._client_secret if configured else None)
        method = creds.token_endpoint_auth_method or ("client_secret_basic" if secret else "none")
        return Client(creds.client_id or "", secret, method, creds.redirect_uri)

    def for_login(self, discovery: Discovery, redirect_uri: str, held: Optional[StoredCredentials]) -> Flow[Client]:
        """Configured client, else a stored registration, else CIMD, else dynamic registration.

        Args:
            discovery: where the login goes.
            redirect_uri: the authorizer's redirect URI.
            held: the credentials in memory (their registration, if for this issuer, is used
                without reading the store).

        Raises:
            OAuthError: the registration was refused, or the server offers no way to identify
                a client that is not configured.
        """
        server = discovery.server
        owner = self._owner
        if owner.client_id:
            return self.configured(server, redirect_uri)
        stored = self._stored(server, redirect_uri, held)
        if stored is not None:
            return stored
        if owner.client_metadata_url and server.metadata.get("client_id_metadata_document_supported") is True:
            return Client(owner.client_metadata_url, None, "none", redirect_uri)
        if server.registration_endpoint:
            client = yield from self._register(server, server.registration_endpoint, redirect_uri)
            return client
        raise OAuthError(
            f"the authorization server {redact_url(server.issuer)} supports neither client registration nor client ID "
            "metadata documents: register a client with it and configure its client_id (and client_secret)"
        )

    def _stored(self, server: AuthServer, redirect_uri: str, held: Optional[StoredCredentials]) -> Optional[Client]:
        """A registration stored for this issuer, if it fits this redirect URI."""
        creds = held
        if creds is None or creds.issuer != server.issuer:
            try:
                creds = self._owner.store.load(self._key, server.issuer)
            except ConfigError as exc:
                logger.warning("ignoring stored OAuth registrations for %s: %s", self._describe(), exc)
                return None
        if creds is None or not creds.client_id or creds.client_id == self._owner.client_metadata_url:
            return None
        method = creds.token_endpoint_auth_method or "none"
        if method in SECRET_METHODS and not creds.client_secret:
            return None  # a pre-registered client whose secret lives in configuration only
        if creds.redirect_uri not in (None, redirect_uri) and server.registration_endpoint:
            return None  # registered for another redirect URI: register again
        return Client(creds.client_id, creds.client_secret, method, redirect_uri, registered=True)

    def _register(self, server: AuthServer, endpoint: str, redirect_uri: str) -> Flow[Client]:
        """Dynamic Client Registration (RFC 7591); the registration is stored at once."""
        supported = server.auth_methods
        body = {
            "client_name": self._owner.client_name,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": _registration_auth_method(supported),
            "application_type": _application_type(redirect_uri),
        }
        headers = Headers({"Content-Type": "application/json", "Accept": "application/json"})
        response = yield HttpRequest("POST", endpoint, headers, json.dumps(body).encode("utf-8"))
        data = read_json(response)
        if response.status not in (200, 201) or not isinstance(data, dict) or not isinstance(data.get("client_id"), str):
            raise server_error("client registration", endpoint, response.status, data)
        secret = data.get("client_secret") if isinstance(data.get("client_secret"), str) else None
        method = data.get("token_endpoint_auth_method")
        if method not in AUTH_METHODS or method == "private_key_jwt":
            method = choose_auth_method(None, supported, secret is not None)
        client = Client(data["client_id"], secret, str(method), redirect_uri, registered=True)
        self._remember(server, client)
        logger.debug("registered client for %s (token endpoint auth: %s)", self._describe(), client.auth_method)
        return client

    def _remember(self, server: AuthServer, client: Client) -> None:
        registration = StoredCredentials(
            server_url=self._key,
            issuer=server.issuer,
            server_name=self._owner.server_name,
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_endpoint_auth_method=client.auth_method,
            redirect_uri=client.redirect_uri,
            token_endpoint=server.token_endpoint,
        )
        try:
            self._owner.store.update(self._key, server.issuer, lambda _old: registration)
        except ConfigError as exc:
            logger.warning("could not store the client registration for %s: %s", self._describe(), exc)
