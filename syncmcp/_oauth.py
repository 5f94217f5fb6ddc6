"""OAuth 2.1 for remote MCP servers: the client side of the MCP authorization specification.

:class:`OAuth` is an :class:`~syncmcp.Auth` flow. It adds ``Authorization: Bearer <token>`` to
every request for the MCP server, refreshes the token shortly before it expires, and answers the
server's challenges:

- **401**: another thread's new token is tried first; else the refresh token (once); else a new
  authorization (browser, scripted, ``client_credentials`` or ``jwt_bearer``) and one retry;
- **403** ``insufficient_scope``: a token another process stored meanwhile (``syncmcp login
  NAME --scopes ...``) is used when its scopes cover the challenge; else step-up authorization
  for the union of the scopes held and those challenged, at most ``max_step_ups`` times per
  request.

Grants: ``authorization_code`` (a user logs in), ``client_credentials`` (machine to machine), and
``jwt_bearer``: Enterprise-Managed Authorization (SEP-990, cross-app access), where an ID token from
the enterprise identity provider is exchanged there for an ID-JAG (RFC 8693 token exchange), which
the MCP authorization server redeems for an access token (RFC 7523 jwt-bearer grant). A
``client_credentials`` or ``jwt_bearer`` token about to expire, with no refresh token, is replaced
by a new grant ahead of the request.

Concurrent requests share one refresh or login (a single-flight "renewal" keyed by a token
generation); when the request leading a renewal is cancelled before it ends, a request waiting
for it takes over with a renewal of its own, within its own wait. Tokens live in memory and in a
:class:`~syncmcp.CredentialStore`, and a refresh re-reads the stored entry and redeems the
refresh token under the store's file lock, so two processes never redeem one (rotating) refresh
token; the token request is sent with the lock held, bounded by the sender's read timeout (the
HTTP transport's 30 s for the flow's own requests).

:meth:`OAuth.close` (a transport closing) cancels a login waiting for the user, and
:meth:`OAuth.authorize_now` puts the token at hand on a request that must not wait.

This module owns the flow: refreshes under the store's lock, logins and step-ups, and which
grant a login uses. Its parts never import it, and every request they make is yielded back to
the flow: :mod:`._oauthcredentials` (the credentials in use and their generation, loaded from,
saved to and taken up from the store), :mod:`._oauthflight` (one renewal at a time for many
threads), :mod:`._oauthdiscovery` (challenges, protected resource and authorization server
metadata, the resource and issuer checks), :mod:`._oauthclients` (which client this is:
configured, stored, CIMD or registered), :mod:`._oauthgrants` (token endpoint requests, client
authentication, the identity provider's token exchange, token responses) and :mod:`._es256`
(``private_key_jwt`` assertions).

Discovery follows MCP 2025-11-25 with the 2026-07-28 issuer checks, and falls back to 2025-03-26
(the authorization server's issuer and endpoints must be HTTPS, except on this machine):

1. Protected Resource Metadata (RFC 9728) from the challenge's ``resource_metadata``, else
   ``/.well-known/oauth-protected-resource/<path>``, else ``/.well-known/oauth-protected-resource``.
   Its ``resource`` must cover the server URL (same origin, path prefix), or the login is refused.
2. Authorization server metadata (RFC 8414, then OpenID Connect Discovery) for
   ``authorization_servers[0]``; its ``issuer`` must be the one asked for; S256 PKCE required.
3. Without protected resource metadata (2025-03-26): metadata at the server's origin, else
   ``/authorize``, ``/token`` and ``/register`` there.

The client is, in order: the configured ``client_id``; a registration stored for this issuer; the
Client ID Metadata Document URL (when the server supports it); Dynamic Client Registration
(RFC 7591). Tokens, secrets, codes and verifiers never appear in log messages, exception messages
or reprs.

Example::

    pool = ConnectionPool()
    with LoopbackAuthorizer() as authorizer:
        oauth = OAuth(server_url="https://mcp.example.com/mcp", server_name="example", authorizer=authorizer)
        response = drive_auth_flow(oauth, HttpRequest("POST", "https://mcp.example.com/mcp", body=b"..."), pool.send)
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar, Union

from ._auth import Auth, AuthFlow
from ._config import MACHINE_GRANTS, OAUTH_GRANTS
from ._credentials import CredentialStore, CredentialTransaction, StoredCredentials
from ._es256 import load_p256_private_key
from ._exceptions import AuthenticationRequired, ConfigError, HTTPError
from ._httpwire import Headers, HttpRequest, HttpResponse, redact_url
from ._login import DEFAULT_LOGIN_TIMEOUT, Authorizer, OAuthError
from ._oauthclients import AUTH_METHODS, Clients
from ._oauthcredentials import HeldCredentials
from ._oauthdiscovery import (
    Challenge,
    Discovery,
    Flow,
    canonical_resource,
    discover,
    is_http_url,
    parse_www_authenticate,
    same_origin,
    strings,
    union,
)
from ._oauthflight import Renewals
from ._oauthgrants import Grants, identity_provider_client, new_credentials, refreshed

__all__ = [
    "DEFAULT_MAX_STEP_UPS",
    "DEFAULT_REFRESH_SKEW",
    "OAuth",
    "OAuthError",
    "canonical_resource",
    "parse_www_authenticate",
]

logger = logging.getLogger("syncmcp.oauth")

_T = TypeVar("_T")

#: Seconds before expiry at which an access token is refreshed ahead of a request.
DEFAULT_REFRESH_SKEW = 30.0
#: Step-up authorizations per request (the conformance suite allows three authorizations in all).
DEFAULT_MAX_STEP_UPS = 2
#: Seconds a request waits for a renewal another request is running (a login may take minutes).
DEFAULT_RENEWAL_WAIT = DEFAULT_LOGIN_TIMEOUT + 60.0
#: Requests one auth flow may send to the MCP server (retries after renewals and step-ups).
_MAX_ROUNDS = 8
#: Token endpoint errors after which the stored tokens are useless.
_DROP_TOKENS_ON = frozenset({"invalid_grant"})
#: ... and after which the client registration is useless too.
_DROP_CLIENT_ON = frozenset({"invalid_client", "unauthorized_client"})


@dataclass(frozen=True)
class _StepUp:
    """Why a step-up login is needed, and the scopes it asks for (for the login hint)."""

    reason: str
    scopes: Tuple[str, ...]


@dataclass
class _Budget:
    """What one request may still do to get a token the server accepts."""

    may_refresh: bool = True
    may_login: bool = True
    step_ups: int = 0


class _Login:
    """One authorization in progress that waits for the user, which :meth:`OAuth.close` cancels."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer
        self.cancelled = False


# ----------------------------------------------------------------------------- the auth flow


class OAuth(Auth):
    """OAuth 2.1 authorization for one remote MCP server, inside requests and for explicit logins.

    Args:
        server_url: the MCP endpoint (tokens are sent to this origin only).
        server_name: the server's configured name, for messages and listings.
        store: where tokens and registrations persist; default: the user's credential file.
            ``CredentialStore.memory()`` keeps them in this process only.
        scopes: scopes to request when the server's challenge names none.
        resource: the RFC 8707 ``resource`` to send instead of the discovered one.
        client_id: a pre-registered client (skips registration).
        client_secret: its secret, for a confidential client.
        token_endpoint_auth_method: ``none``, ``client_secret_basic``, ``client_secret_post`` or
            ``private_key_jwt``; default: what the registration or the server's metadata says.
        client_metadata_url: an HTTPS URL serving this client's metadata document, used as the
            ``client_id`` where the authorization server supports Client ID Metadata Documents.
        client_name: the name registered by Dynamic Client Registration.
        grant_type: ``"authorization_code"`` (a user logs in), ``"client_credentials"``
            (machine to machine: needs ``client_id`` and a secret or a private key), or
            ``"jwt_bearer"``: Enterprise-Managed Authorization (SEP-990). ``id_token`` is exchanged
            at ``idp_token_endpoint`` for an ID-JAG (Identity Assertion JWT Authorization Grant,
            RFC 8693 token exchange) whose audience is the discovered authorization server's
            issuer and whose resource is the MCP server's; the authorization server redeems it
            for an access token (RFC 7523 jwt-bearer grant), with ``client_id`` authenticated as
            for any token request. Needs ``client_id`` (the client the identity provider names in
            the ID-JAG), ``idp_token_endpoint``, ``idp_client_id`` and ``id_token``. With no
            refresh token from the authorization server, a 401 or an expiring token means a new
            exchange.
        authorizer: how a user approves a login; ``None``: requests never start one and raise
            :class:`~syncmcp.AuthenticationRequired` instead (log in with :meth:`login`).
        login_timeout: seconds a request waits for a refresh or login another request runs.
        max_step_ups: step-up authorizations (403 ``insufficient_scope``) per request.
        refresh_skew: refresh a token this many seconds before it expires.
        private_key_pem: a P-256 private key (PKCS#8 or SEC 1 PEM) for ``private_key_jwt``
            client authentication with ES256.
        signing_algorithm: the client assertion's algorithm; only ``"ES256"``.
        idp_token_endpoint: ``jwt_bearer`` only: the enterprise identity provider's token
            endpoint, where the ID token is exchanged for an ID-JAG.
        idp_client_id: ``jwt_bearer`` only: this client's id at the identity provider (the ID
            token's audience).
        idp_client_secret: ``jwt_bearer`` only: its secret there, for a confidential client.
        idp_token_endpoint_auth_method: ``jwt_bearer`` only: ``none``, ``client_secret_basic``
            or ``client_secret_post`` at the identity provider; default: ``client_secret_basic``
            with ``idp_client_secret``, else ``none`` (``client_id`` in the form).
        id_token: ``jwt_bearer`` only: the user's OpenID Connect ID token from the identity
            provider, or a callable returning a current one, called for every exchange (ID
            tokens expire: a callable lets each renewal use a fresh one). It may raise
            :class:`~syncmcp.OAuthError` or :class:`~syncmcp.AuthenticationRequired`, which
            reach the request unchanged; any other exception becomes an ``OAuthError``.

    Raises:
        ValueError: an unusable argument (not an http(s) URL, unknown grant type or method,
            client_credentials without client credentials, an unreadable private key,
            jwt_bearer without its identity provider arguments, or those arguments with
            another grant).

    Example::

        oauth = syncmcp.OAuth(
            server_url="https://mcp.example.com/mcp",
            server_name="example",
            authorizer=syncmcp.LoopbackAuthorizer(),
        )
        oauth.login(pool.send)              # opens the browser; stores the tokens
        print(oauth.status())               # "oauth"

    Enterprise-Managed Authorization (SEP-990), with an ID token the application's single
    sign-on obtained::

        oauth = syncmcp.OAuth(
            server_url="https://mcp.example.com/mcp",
            grant_type="jwt_bearer",
            client_id="acme-agent",                       # registered with the MCP authorization server
            client_secret=os.environ["ACME_AGENT_SECRET"],
            idp_token_endpoint="https://acme.idp.example/oauth2/token",
            idp_client_id="acme-agent-sso",               # registered with the identity provider
            id_token=sso.current_id_token,                # a callable: a fresh ID token per exchange
        )
        with syncmcp.connect_http("https://mcp.example.com/mcp", auth=oauth) as session:
            session.list_tools()
    """

    def __init__(
        self,
        *,
        server_url: str,
        server_name: Optional[str] = None,
        store: Optional[CredentialStore] = None,
        scopes: Union[str, Sequence[str]] = (),
        resource: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        token_endpoint_auth_method: Optional[str] = None,
        client_metadata_url: Optional[str] = None,
        client_name: str = "syncmcp",
        grant_type: str = "authorization_code",
        authorizer: Optional[Authorizer] = None,
        login_timeout: float = DEFAULT_RENEWAL_WAIT,
        max_step_ups: int = DEFAULT_MAX_STEP_UPS,
        refresh_skew: float = DEFAULT_REFRESH_SKEW,
        private_key_pem: Optional[str] = None,
        signing_algorithm: str = "ES256",
        idp_token_endpoint: Optional[str] = None,
        idp_client_id: Optional[str] = None,
        idp_client_secret: Optional[str] = None,
        idp_token_endpoint_auth_method: Optional[str] = None,
        id_token: Union[str, Callable[[], str], None] = None,
    ) -> None:
        if not is_http_url(server_url):
            raise ValueError(f"server_url must be an http(s) URL, not {redact_url(server_url)!r}")
        if grant_type not in OAUTH_GRANTS:
            raise ValueError(f"grant_type must be one of {', '.join(OAUTH_GRANTS)}")
        if token_endpoint_auth_method is not None and token_endpoint_auth_method not in AUTH_METHODS:
            raise ValueError(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
        if client_metadata_url is not None and not client_metadata_url.lower().startswith("https://"):
            raise ValueError("client_metadata_url must be an https URL")
        if signing_algorithm != "ES256":
            raise ValueError("only ES256 client assertions are supported")
        signing_key = load_p256_private_key(private_key_pem) if private_key_pem is not None else None
        if signing_key is not None:
            token_endpoint_auth_method = token_endpoint_auth_method or "private_key_jwt"
        if grant_type == "client_credentials" and not (client_id and (client_secret or signing_key)):
            raise ValueError("grant_type='client_credentials' needs client_id and client_secret (or private_key_pem)")
        if token_endpoint_auth_method == "private_key_jwt" and signing_key is None:
            raise ValueError("token_endpoint_auth_method='private_key_jwt' needs private_key_pem")
        idp_client = identity_provider_client(
            grant_type, client_id, idp_token_endpoint, idp_client_id, idp_client_secret, idp_token_endpoint_auth_method, id_token
        )
        self.server_url = server_url
        self.server_name = server_name
        self.store = store if store is not None else CredentialStore()
        self.scopes = strings(scopes)
        self.resource = resource
        self.client_id = client_id
        self.token_endpoint_auth_method = token_endpoint_auth_method
        self.client_metadata_url = client_metadata_url
        self.client_name = client_name
        self.grant_type = grant_type
        self.authorizer = authorizer
        self.login_timeout = login_timeout
        self.max_step_ups = max_step_ups
        self.refresh_skew = refresh_skew
        self.idp_token_endpoint = idp_token_endpoint
        self.idp_client_id = idp_client_id
        self._key = canonical_resource(server_url)
        self._lock = threading.Lock()
        self._held = HeldCredentials(self, self._key, self._lock, self._describe)
        self._renewals = Renewals(
            self._lock, generation=lambda: self._held.generation, describe=self._describe, wait_limit=lambda: self.login_timeout
        )
        self._logins: List[_Login] = []  # authorizations waiting for the user, for close()
        self._clients = Clients(self, self._key, client_secret, self._describe)
        self._grants = Grants(signing_key, idp_client, id_token, self._describe)

    # ------------------------------------------------------------------ public helpers

    def status(self) -> str:
        """``"oauth"`` when tokens are held or stored for this server, else ``"not_logged_in"``."""
        return "oauth" if self.has_credentials() else "not_logged_in"

    def has_credentials(self) -> bool:
        """Whether an access or refresh token is held or stored for this server."""
        creds = self.credentials()
        return creds is not None and creds.has_tokens

    def credentials(self) -> Optional[StoredCredentials]:
        """The credentials in use (loaded from the store on first use); their repr hides secrets."""
        return self._held.snapshot()[0]

    def logout(self) -> bool:
        """Forget this server's tokens and registrations, here and in the store; whether any existed.

        Raises:
            ConfigError: the credential file cannot be changed.
        """
        return self._held.forget()

    def login(
        self,
        send: Callable[[HttpRequest], HttpResponse],
        scopes: Optional[Sequence[str]] = None,
        *,
        authorizer: Optional[Authorizer] = None,
        challenge: Optional[str] = None,
    ) -> StoredCredentials:
        """Log in now, even if tokens exist: discovery, authorization, token; the result is stored.

        Args:
            send: sends one request, like ``ConnectionPool().send``.
            scopes: the scopes to ask for (default: the server's challenge, then the configured
                scopes, then those the server supports).
            authorizer: overrides the constructor's for this login.
            challenge: a ``WWW-Authenticate`` value already received; without it the server is
                sent one unauthenticated request to obtain its challenge.

        Returns:
            The stored credentials (their repr hides the tokens).

        Raises:
            AuthenticationRequired: no authorizer for an ``authorization_code`` login.
            OAuthError: the authorization server refused, or did something unsafe.
            HTTPError: a server could not be reached.
            ConfigError: the credentials could not be written to the store.
        """
        flight = self._renewals.lead()
        try:
            creds = _drive(self._explicit_login(scopes, authorizer, challenge), send)
        except BaseException as exc:
            self._renewals.land(flight, exc)
            raise
        self._renewals.land(flight, None)
        return creds

    def authorize_now(self, request: HttpRequest) -> bool:
        """Put the access token at hand on ``request``; whether it may be sent.

        The token held, else the one stored, even if it is about to expire (the server may still
        take it); never a request, refresh or login, and no wait for another thread's renewal.
        ``False`` when there is no access token. A request for another origin gets nothing and
        may be sent.

        Example::

            if oauth.authorize_now(delete_request):
                pool.send(delete_request, read_timeout=5.0).close()
        """
        if not same_origin(request.url, self.server_url):
            return True  # never this server's token elsewhere
        return _attach(request, self._held.at_hand(), False)

    def close(self) -> None:
        """Cancel any authorization waiting for the user: the request driving it fails at once.

        Called when a transport using this auth closes. The login's request (and the requests
        waiting for that login) fail with :class:`~syncmcp.OAuthError` ("the login was
        cancelled"); an explicit :meth:`login` under way is cancelled too. A login waits for the
        user in its authorizer: :class:`~syncmcp.LoopbackAuthorizer` wakes at once, an
        authorizer that cannot be interrupted is at least never entered once ``close`` ran.
        Idempotent; the object stays usable (by other transports: a later login works).
        """
        with self._lock:
            logins = [login for login in self._logins if not login.cancelled]
            for login in logins:
                login.cancelled = True
        for authorizer in {id(login.authorizer): login.authorizer for login in logins}.values():
            try:
                authorizer.cancel()
            except Exception as exc:  # an authorizer failing to cancel must not fail a transport's close
                logger.warning("could not cancel the login to %s: %s", self._describe(), exc)

    def __repr__(self) -> str:
        name = f" {self.server_name!r}" if self.server_name else ""
        return f"<OAuth{name} {redact_url(self.server_url)}>"

    def _describe(self) -> str:
        return f"MCP server {self.server_name!r}" if self.server_name else f"the MCP server at {redact_url(self.server_url)}"

    # ------------------------------------------------------------------ the flow

    def auth_flow(self, request: HttpRequest) -> AuthFlow:
        """Send ``request`` with the current token; refresh, log in or step up as the server asks.

        Raises:
            AuthenticationRequired: a login is needed and cannot happen here, or the server
                still refuses after the allowed renewals and step-ups.
            OAuthError: the authorization server refused or misbehaved.
        """
        if not same_origin(request.url, self.server_url):
            yield request  # never send this server's token elsewhere
            return
        budget = _Budget()
        creds, generation = self._held.snapshot()
        if creds is not None and creds.refresh_token and (not creds.access_token or creds.expires_within(self.refresh_skew)):
            budget.may_refresh = False
            yield from self._refresh_ahead(creds, generation)
            creds, generation = self._held.snapshot()
        elif creds is not None and self._machine_token_expiring(creds):
            yield from self._regrant_ahead(creds, generation)
            creds, generation = self._held.snapshot()
        attached = False
        for _ in range(_MAX_ROUNDS):
            attached = _attach(request, creds, attached)
            response = yield request
            challenge = Challenge.of(response) if response.status in (401, 403) else None
            if challenge is not None and response.status == 401:
                yield from self._renew(challenge, generation, budget)
            elif challenge is not None and challenge.error == "insufficient_scope":
                yield from self._step_up(challenge, generation, budget, request.url)
            else:
                return
            creds, generation = self._held.snapshot()
        raise AuthenticationRequired(f"{self._describe()} kept refusing the request's credentials", status=401, url=request.url)

    def _refresh_ahead(self, creds: StoredCredentials, generation: int) -> Flow[None]:
        """Refresh a token about to expire; a failure only means the request goes without it."""
        try:
            yield from self._renewals.run(generation, lambda: self._refresh(creds))
        except HTTPError as exc:  # OAuthError and AuthenticationRequired included
            logger.info("could not refresh the access token for %s ahead of its expiry: %s", self._describe(), exc)

    def _machine_token_expiring(self, creds: StoredCredentials) -> bool:
        """Whether a machine grant's access token, without a refresh token, is about to expire."""
        return self.grant_type in MACHINE_GRANTS and bool(creds.access_token) and creds.expires_within(self.refresh_skew)

    def _regrant_ahead(self, creds: StoredCredentials, generation: int) -> Flow[None]:
        """A machine grant's token about to expire, and no refresh token: a new grant now.

        For the scopes held. A failure only means the request goes with the old token (a 401
        then tries once more, with the server's challenge).
        """
        try:
            yield from self._renewals.run(generation, lambda: self._login(Challenge(), scopes=creds.scopes or None))
        except HTTPError as exc:  # OAuthError and AuthenticationRequired included
            logger.info("could not renew the access token for %s ahead of its expiry: %s", self._describe(), exc)

    def _renew(self, challenge: Challenge, generation: int, budget: _Budget) -> Flow[None]:
        """After a 401: use another request's new token, else refresh (once), else log in (once)."""

        def renew() -> Flow[None]:
            creds = self._held.current()
            if self._held.adopt_stored(creds):
                return
            if budget.may_refresh and creds is not None and creds.refresh_token:
                budget.may_refresh = False
                try:
                    yield from self._refresh(creds)
                    return
                except OAuthError as exc:
                    logger.info("refreshing the token for %s failed (%s); logging in again", self._describe(), exc.error)
            if not budget.may_login:
                raise AuthenticationRequired(f"{self._describe()} refused the new access token (HTTP 401)", status=401)
            budget.may_login = budget.may_refresh = False
            yield from self._login(challenge)

        yield from self._renewals.run(generation, renew)

    def _step_up(self, challenge: Challenge, generation: int, budget: _Budget, url: str) -> Flow[None]:
        """After a 403 ``insufficient_scope``: a stored token that covers it, else authorize again.

        Another process may have logged in with the scopes meanwhile (``syncmcp login NAME
        --scopes ...``, as the hint says): its token is used when it is newer than the one held
        and covers the scopes held and those challenged. Else the step-up asks for their union.
        """
        if self._held.adopt_stored_scopes(challenge.scopes):
            return
        wanted = " ".join(challenge.scopes) or "more scopes"
        if budget.step_ups >= self.max_step_ups:
            raise AuthenticationRequired(
                f"{self._describe()} still requires {wanted} after {budget.step_ups} step-up authorization(s) (HTTP 403)",
                status=403,
                url=url,
            )
        budget.step_ups += 1
        creds = self._held.current()
        held = creds.scopes if creds is not None else ()
        step_up = _StepUp(f"requires {wanted}", union(held, challenge.scopes))
        yield from self._renewals.run(generation, lambda: self._login(challenge, extra_scopes=held, step_up=step_up))

    # ------------------------------------------------------------------ refresh

    def _refresh(self, used: StoredCredentials) -> Flow[None]:
        """Redeem the refresh token under the store's lock, unless another process already did.

        The store's transaction (its file lock) stays open across the token request, on
        purpose: an authorization server that rotates refresh tokens accepts each one once, and
        a process that redeemed it must have stored the new one before another process reads
        the entry. The other processes wait for the lock meanwhile (up to the store's
        ``lock_timeout``); the request is bounded by the sender's read timeout (the HTTP
        transport sends the flow's own requests with 30 s). Nothing else waits in the lock.

        Raises:
            OAuthError: the token endpoint refused (``invalid_grant`` drops the stored tokens).
        """
        error: Optional[OAuthError] = None
        result: Optional[StoredCredentials] = None
        try:
            with self.store.transaction() as txn:
                current = txn.get(self._key, used.issuer)
                newer = current is not None and current.access_token not in (None, used.access_token)
                if newer and current is not None and not current.expires_within(self.refresh_skew):
                    result = current  # refreshed by another process meanwhile
                if result is None:
                    base = current if current is not None and current.refresh_token else used
                    try:
                        data = yield from self._grants.refresh(base, self._clients.of(base))
                    except OAuthError as exc:
                        error = exc
                        result = self._after_refusal(txn, base, exc)
                    else:
                        result = refreshed(base, data)
                        txn.put(result)
        except ConfigError as exc:
            raise AuthenticationRequired(f"cannot refresh the token for {self._describe()}: {exc}") from exc
        if result != used:
            self._held.install(result)
        if error is not None:
            raise error

    def _after_refusal(self, txn: CredentialTransaction, base: StoredCredentials, exc: OAuthError) -> Optional[StoredCredentials]:
        """What remains after the token endpoint refused a refresh."""
        if exc.error in _DROP_CLIENT_ON:
            txn.remove(self._key, base.issuer)
            return None
        if exc.error in _DROP_TOKENS_ON:
            dropped = base.without_tokens()
            txn.put(dropped)
            return dropped
        return base

    # ------------------------------------------------------------------ login

    def _explicit_login(
        self, scopes: Optional[Sequence[str]], authorizer: Optional[Authorizer], challenge: Optional[str]
    ) -> Flow[StoredCredentials]:
        if challenge is not None:
            found = Challenge(parse_www_authenticate(challenge) or {})
        else:
            found = yield from self._probe()
        creds = yield from self._login(found, scopes=scopes, authorizer=authorizer, strict=True)
        return creds

    def _probe(self) -> Flow[Challenge]:
        """One unauthenticated request, for the server's ``WWW-Authenticate`` challenge."""
        body = json.dumps({"jsonrpc": "2.0", "id": "syncmcp-login", "method": "ping"}).encode()
        headers = Headers({"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
        response = yield HttpRequest("POST", self.server_url, headers, body)
        return Challenge.of(response) if response.status in (401, 403) else Challenge()

    def _login(
        self,
        challenge: Challenge,
        *,
        extra_scopes: Sequence[str] = (),
        scopes: Optional[Sequence[str]] = None,
        authorizer: Optional[Authorizer] = None,
        strict: bool = False,
        step_up: Optional[_StepUp] = None,
    ) -> Flow[StoredCredentials]:
        """Discover, identify the client, obtain tokens, store and install them."""
        authorizer = authorizer or self.authorizer
        if self.grant_type != "authorization_code":
            creds = yield from self._obtain(challenge, extra_scopes, scopes, strict, None)
            return creds
        if authorizer is None:
            raise AuthenticationRequired(self._login_hint(step_up), status=401 if step_up is None else 403, url=self.server_url)
        login = _Login(authorizer)
        with self._lock:
            self._logins.append(login)
        try:
            creds = yield from self._obtain(challenge, extra_scopes, scopes, strict, login)
        except OAuthError as exc:
            if login.cancelled:
                raise OAuthError(f"the login was cancelled (a connection to {self._describe()} closed)", url=exc.url) from exc
            raise
        finally:
            with self._lock:
                self._logins.remove(login)
        return creds

    def _obtain(
        self,
        challenge: Challenge,
        extra_scopes: Sequence[str],
        scopes: Optional[Sequence[str]],
        strict: bool,
        login: Optional[_Login],
    ) -> Flow[StoredCredentials]:
        """:meth:`_login`'s work: discovery, the client, the grant (``login``: the user's approval)."""
        discovery = yield from discover(
            challenge,
            self.server_url,
            self.grant_type,
            resource=self.resource,
            fallback_resource=self._key,
            describe=self._describe(),
        )
        wanted = self._select_scopes(challenge, discovery, extra_scopes, scopes)
        if self.grant_type == "client_credentials":
            client = self._clients.configured(discovery.server, None)
            data = yield from self._grants.client_credentials(discovery, client, wanted)
        elif self.grant_type == "jwt_bearer":
            client = self._clients.configured(discovery.server, None)
            data = yield from self._grants.jwt_bearer(discovery, client, wanted, self.idp_token_endpoint)
        else:
            assert login is not None
            authorizer = login.authorizer
            try:
                client = yield from self._clients.for_login(discovery, authorizer.redirect_uri, self._held.current())
                if login.cancelled:  # close() ran before the wait for the user began
                    raise OAuthError("the login was cancelled", url=self.server_url)
                data = yield from self._grants.authorization_code(discovery, client, wanted, authorizer)
            finally:
                authorizer.end_login()
        creds = new_credentials(data, discovery, client, wanted, server_url=self._key, server_name=self.server_name)
        self._held.persist(creds, strict=strict)
        self._held.install(creds)
        logger.info("logged in to %s (issuer %s)", self._describe(), redact_url(discovery.server.issuer))
        return creds

    def _login_hint(self, step_up: Optional[_StepUp]) -> str:
        reason = "requires OAuth login" if step_up is None else step_up.reason
        if not self.server_name:
            return f"the MCP server at {redact_url(self.server_url)} {reason}; log in with OAuth.login() and an authorizer"
        option = f" --scopes {','.join(step_up.scopes)}" if step_up is not None and step_up.scopes else ""
        return f"MCP server {self.server_name!r} {reason}; run `syncmcp login {self.server_name}{option}`"

    def _select_scopes(
        self, challenge: Challenge, discovery: Discovery, extra: Sequence[str], override: Optional[Sequence[str]]
    ) -> Tuple[str, ...]:
        """The scopes to request.

        The challenge's, else the configured ones, else the PRM's ``scopes_supported``, else none;
        plus ``offline_access`` when the authorization server lists it (SEP-2207).
        """
        base = strings(list(override)) if override is not None else challenge.scopes or self.scopes or discovery.scopes_supported
        wanted = union(extra, base)
        offered = strings(discovery.server.metadata.get("scopes_supported"))
        if wanted and self.grant_type == "authorization_code" and "offline_access" in offered:
            wanted = union(wanted, ("offline_access",))
        return wanted


def _attach(request: HttpRequest, creds: Optional[StoredCredentials], attached: bool) -> bool:
    """Put the access token on ``request`` (or take off one this flow put there); whether it is on."""
    if creds is not None and creds.access_token:
        request.headers["Authorization"] = f"Bearer {creds.access_token}"
        return True
    if attached:
        request.headers.pop("Authorization")
    return False


def _drive(flow: Flow[_T], send: Callable[[HttpRequest], HttpResponse]) -> _T:
    """Run a flow step to its result, closing every response once the flow has read it."""
    try:
        request = next(flow)
        while True:
            response = send(request)
            try:
                request = flow.send(response)
            finally:
                response.close()
    except StopIteration as stop:
        result: _T = stop.value
        return result
    finally:
        flow.close()
