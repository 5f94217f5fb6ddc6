"""Remote servers from their configuration: headers, credentials, the transport, the auth status.

Codex's rules: ``http_headers`` are sent as given; ``env_http_headers`` take their values from the
environment (an unset or blank variable leaves the header out); ``bearer_token_env_var`` names
the variable holding a bearer token (``Environment variable <VAR> for MCP server '<s>' is not
set``). Precedence: a configured bearer token or ``Authorization`` header, then OAuth (stored
tokens, refreshed as needed; the ``client_credentials`` grant; an interactive login only where a
caller asked for one), then nothing. Values are never logged.

Example:
    >>> from syncmcp._config import ServerConfig
    >>> config = ServerConfig(url="https://mcp.test/mcp", env_http_headers={"X-Team": "TEAM"})
    >>> resolve_http_headers("s", config, environ={"TEAM": "blue"})
    {'X-Team': 'blue'}
    >>> auth_status(ServerConfig(url="https://mcp.test/mcp", bearer_token_env_var="TOKEN"))
    'bearer_token'
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence

from ._auth import Auth, BearerAuth
from ._config import MACHINE_GRANTS, ServerConfig, resolve_bearer_token, sends_own_credentials
from ._exceptions import ConfigError
from ._urls import same_origin

if TYPE_CHECKING:
    from ._credentials import CredentialStore, StoredCredentials
    from ._http import HttpTransport
    from ._login import Authorizer
    from ._oauth import OAuth

__all__ = [
    "AUTH_STATUSES",
    "LOGIN_ONLY_FOR_HTTP",
    "auth_status",
    "http_auth",
    "http_transport",
    "login",
    "logout",
    "oauth_for",
    "resolve_http_headers",
]

logger = logging.getLogger("syncmcp.manager")

#: What ``list`` and ``doctor`` say about a server's authentication (Codex's values).
AUTH_STATUSES = ("unsupported", "unknown", "not_logged_in", "bearer_token", "oauth")
#: Codex's text for a login asked of a stdio server.
LOGIN_ONLY_FOR_HTTP = "OAuth login is only supported for streamable HTTP servers."


def resolve_http_headers(name: str, config: ServerConfig, environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``http_headers`` plus the ``env_http_headers`` whose variables are set (blank ones skipped).

    Example:
        >>> resolve_http_headers("s", ServerConfig(url="https://a.test/mcp", env_http_headers={"X-A": "NOPE"}), environ={})
        {}
    """
    from ._http import is_reserved_header

    source = os.environ if environ is None else environ
    headers = {}
    for header, value in config.http_headers.items():
        if is_reserved_header(header):  # Codex's rule for a header it cannot send: warn, skip
            logger.warning("MCP server '%s': header %s is set by the transport; the configured one is ignored", name, header)
            continue
        headers[header] = value
    for header, variable in config.env_http_headers.items():
        if is_reserved_header(header):
            logger.warning("MCP server '%s': header %s is set by the transport; the configured one is ignored", name, header)
            continue
        found = source.get(variable)
        if found is None or not found.strip():
            logger.debug("MCP server '%s': %s not set; header %s left out", name, variable, header)
            continue
        value = found
        if "\r" in value or "\n" in value:
            logger.warning("MCP server '%s': the value of %s contains a line break; header %s left out", name, variable, header)
            continue
        headers[header] = value
    return headers


def oauth_for(
    name: str,
    config: ServerConfig,
    *,
    store: Optional[CredentialStore] = None,
    authorizer: Optional[Authorizer] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> OAuth:
    """The :class:`~syncmcp.OAuth` a configured server uses (interactive only with ``authorizer``).

    Raises:
        ConfigError: ``oauth.client_secret_env_var`` names a variable that is not set.
    """
    from ._oauth import OAuth

    assert config.url is not None
    settings = config.oauth
    source = os.environ if environ is None else environ

    def variable(key: str) -> Optional[str]:
        named = settings.get(key)
        if not named:
            return None
        value = source.get(named)
        if not value:
            raise ConfigError(f"Environment variable {named} for MCP server '{name}' is not set (oauth.{key})")
        return value

    secret = variable("client_secret_env_var")
    options: Dict[str, Any] = {
        "server_url": config.url,
        "server_name": name,
        "scopes": tuple(config.scopes),
        "resource": config.oauth_resource,
        "client_id": settings.get("client_id"),
        "client_secret": secret,
        "client_metadata_url": settings.get("client_metadata_url"),
        "token_endpoint_auth_method": settings.get("token_endpoint_auth_method"),
        "grant_type": settings.get("grant_type", "authorization_code"),
        "authorizer": authorizer,
    }
    if options["grant_type"] == "jwt_bearer":
        token_variable = settings["id_token_env_var"]

        def id_token() -> str:  # read at every exchange: a renewed ID token is picked up
            value = (os.environ if environ is None else environ).get(token_variable)
            if not value:
                raise ConfigError(
                    f"Environment variable {token_variable} for MCP server '{name}' is not set (oauth.id_token_env_var)"
                )
            return value

        options.update(
            idp_token_endpoint=settings["idp_token_endpoint"],
            idp_client_id=settings["idp_client_id"],
            idp_client_secret=variable("idp_client_secret_env_var"),
            id_token=id_token,
        )
    if store is not None:
        options["store"] = store
    return OAuth(**options)


def http_auth(
    name: str,
    config: ServerConfig,
    headers: Mapping[str, str],
    *,
    store: Optional[CredentialStore] = None,
    authorizer: Optional[Authorizer] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Optional[Auth]:
    """The credentials of a configured HTTP server, by Codex's precedence.

    Raises:
        ConfigError: the bearer token's variable is not set or empty.
    """
    token = resolve_bearer_token(name, config.bearer_token_env_var, environ)
    if token is not None:
        return BearerAuth(token)
    if any(header.lower() == "authorization" for header in headers):
        return None
    return oauth_for(name, config, store=store, authorizer=authorizer, environ=environ)


def http_transport(
    name: str,
    config: ServerConfig,
    *,
    store: Optional[CredentialStore] = None,
    authorizer: Optional[Authorizer] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> HttpTransport:
    """The :class:`~syncmcp.HttpTransport` for a configured HTTP server.

    Raises:
        ConfigError: a variable the configuration names is not set.
    """
    from ._http import DEFAULT_ACK_TIMEOUT, HttpTransport

    assert config.url is not None
    headers = resolve_http_headers(name, config, environ)
    auth = http_auth(name, config, headers, store=store, authorizer=authorizer, environ=environ)
    # A notification is posted on the caller's thread: never longer than a start-up may take.
    ack = min(DEFAULT_ACK_TIMEOUT, config.startup_timeout_sec)
    return HttpTransport(config.url, name=name, headers=headers, auth=auth, mode=config.http_mode, ack_timeout=ack)


def auth_status(config: ServerConfig, store: Optional[CredentialStore] = None) -> str:
    """How a configured server authenticates, as far as the configuration and stored logins tell.

    ``unsupported`` (stdio), ``bearer_token``, ``oauth`` (logged in, or a client-credentials
    client), or ``not_logged_in`` / ``unknown`` for an HTTP server without credentials. Without
    network access syncmcp cannot tell whether a server without credentials needs any: that is
    ``unknown``, unless OAuth settings are configured (then ``not_logged_in``).

    Example:
        >>> auth_status(ServerConfig(command="npx"))
        'unsupported'
    """
    if config.url is None:
        return "unsupported"
    if sends_own_credentials(config):
        return "bearer_token"
    if config.oauth.get("grant_type") in MACHINE_GRANTS:
        return "oauth"
    from ._credentials import CredentialStore
    from ._oauth import canonical_resource

    try:
        stored = (store or CredentialStore()).load(canonical_resource(config.url))
    except (ConfigError, OSError) as exc:
        logger.debug("cannot read stored credentials: %s", exc)
        stored = None
    if stored is not None and stored.has_tokens:
        return "oauth"
    return "not_logged_in" if config.oauth else "unknown"


def login(
    name: str,
    config: ServerConfig,
    *,
    scopes: Optional[Sequence[str]] = None,
    authorizer: Optional[Authorizer] = None,
    store: Optional[CredentialStore] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> StoredCredentials:
    """Log in to a configured HTTP server with OAuth now and store the tokens.

    Args:
        name: the server's name.
        config: its configuration (``scopes``, ``oauth_resource`` and the ``oauth`` table apply).
        scopes: the scopes to ask for instead of the configured or advertised ones.
        authorizer: how the user approves; default: a browser and a loopback callback on
            127.0.0.1 (``oauth.callback_port``, else a free port).
        store: where the tokens go; default: the user's credential file.
        environ: where variables named in the configuration are read (default: the process's).

    Raises:
        ValueError: the server is not an HTTP server (Codex's text).
        AuthenticationRequired: the login failed or was refused (an ``OAuthError`` says why).
        HTTPError: a server could not be reached.
    """
    from ._httpwire import ConnectionPool, HttpRequest, HttpResponse
    from ._login import LoopbackAuthorizer

    if config.url is None:
        raise ValueError(LOGIN_ONLY_FOR_HTTP)
    own = authorizer is None
    chosen = authorizer if authorizer is not None else LoopbackAuthorizer(port=int(config.oauth.get("callback_port", 0)))
    headers = resolve_http_headers(name, config, environ)
    server_url = config.url
    pool = ConnectionPool()

    def send(request: HttpRequest) -> HttpResponse:
        if same_origin(request.url, server_url):  # the server's own headers go to the server only
            for header, value in headers.items():
                if header.lower() != "authorization":
                    request.headers.setdefault(header, value)
        return pool.send(request, read_timeout=_LOGIN_READ_TIMEOUT)

    try:
        oauth = oauth_for(name, config, store=store, authorizer=chosen, environ=environ)
        return oauth.login(send, scopes)
    finally:
        pool.close()
        if own:
            chosen.close()


def logout(name: str, config: ServerConfig, *, store: Optional[CredentialStore] = None) -> bool:
    """Forget the OAuth tokens stored for a configured HTTP server; whether there were any.

    Raises:
        ValueError: the server is not an HTTP server.
    """
    from ._credentials import CredentialStore
    from ._oauth import canonical_resource

    if config.url is None:
        raise ValueError(LOGIN_ONLY_FOR_HTTP)
    target = store if store is not None else CredentialStore()
    return target.delete(canonical_resource(config.url))


#: Seconds any one read may wait during a login's own requests (metadata, token).
_LOGIN_READ_TIMEOUT = 30.0
