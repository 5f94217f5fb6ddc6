"""Token endpoint requests: the OAuth grants, client authentication, and token responses.

The grants:

- ``authorization_code``: the authorization request with PKCE (S256), the user's approval
  through an :class:`~syncmcp.Authorizer`, the callback's ``error``, ``state`` and ``iss``
  checks (RFC 9207), and the code exchange;
- ``client_credentials`` (machine to machine) and ``refresh_token``;
- ``jwt_bearer``: Enterprise-Managed Authorization (SEP-990), where an ID token from the
  enterprise identity provider is exchanged there for an ID-JAG (RFC 8693 token exchange), which
  the MCP authorization server redeems for an access token (RFC 7523 jwt-bearer grant).

Each token request authenticates the client (RFC 6749 §2.3: ``none``, ``client_secret_basic``,
``client_secret_post``, or ``private_key_jwt`` with an ES256 assertion, RFC 7523) and accepts
only a Bearer token; error responses become :class:`~syncmcp.OAuthError`. Token responses
become :class:`~syncmcp.StoredCredentials`. Every request is yielded from a generator (the HTTP
transport sends it); nothing is stored here, and tokens, secrets, codes, verifiers and ID tokens
never appear in a message.

Example::

    grants = Grants(signing_key=None, idp_client=None, id_token=None, describe=lambda: "example")
    data = yield from grants.client_credentials(discovery, client, ("files:read",))
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
import urllib.parse
from dataclasses import replace
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from ._credentials import StoredCredentials
from ._es256 import client_assertion
from ._exceptions import AuthenticationRequired
from ._httpwire import Headers, HttpRequest, redact_url
from ._login import Authorizer, OAuthError
from ._oauthclients import SECRET_METHODS, Client
from ._oauthdiscovery import (
    JWT_BEARER_GRANT,
    AuthServer,
    Discovery,
    Flow,
    is_http_url,
    read_json,
    require_https,
    server_error,
    strings,
)

__all__ = ["Grants", "IdToken", "identity_provider_client", "new_credentials", "refreshed"]

logger = logging.getLogger("syncmcp.oauth")

#: An ID token for ``jwt_bearer``, or a callable returning a current one.
IdToken = Union[str, Callable[[], str], None]

#: Client authentication at the identity provider's token endpoint.
_IDP_AUTH_METHODS = ("none", *SECRET_METHODS)
_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: RFC 8693 token exchange, and the token types of SEP-990's exchange at the identity provider.
_TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
_ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
_ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"


def identity_provider_client(
    grant_type: str,
    client_id: Optional[str],
    endpoint: Optional[str],
    idp_client_id: Optional[str],
    secret: Optional[str],
    method: Optional[str],
    id_token: IdToken,
) -> Optional[Client]:
    """The client's identity at the identity provider (``jwt_bearer``), after checking the arguments.

    Raises:
        ValueError: an argument missing or unusable for ``jwt_bearer`` (``idp_token_endpoint``
            must be HTTPS, or ``http`` on this machine), or given to another grant.
    """
    given = [
        name
        for name, value in (
            ("idp_token_endpoint", endpoint),
            ("idp_client_id", idp_client_id),
            ("idp_client_secret", secret),
            ("idp_token_endpoint_auth_method", method),
            ("id_token", id_token),
        )
        if value is not None
    ]
    if grant_type != "jwt_bearer":
        if given:
            raise ValueError(f"{', '.join(given)}: only for grant_type='jwt_bearer'")
        return None
    if not client_id:
        raise ValueError("grant_type='jwt_bearer' needs client_id: the client the identity provider names in the ID-JAG")
    if not is_http_url(endpoint):
        raise ValueError(
            "grant_type='jwt_bearer' needs idp_token_endpoint, the identity provider's token endpoint (an http(s) URL)"
        )
    assert endpoint is not None
    try:
        require_https(endpoint, "idp_token_endpoint")
    except OAuthError as exc:
        raise ValueError(f"{exc} (plain http is for localhost, 127.0.0.0/8 and ::1 only)") from None
    if not idp_client_id:
        raise ValueError("grant_type='jwt_bearer' needs idp_client_id, this client's id at the identity provider")
    if not (callable(id_token) or (isinstance(id_token, str) and id_token.strip())):
        raise ValueError("grant_type='jwt_bearer' needs id_token: an ID token, or a callable returning one")
    if method is not None and method not in _IDP_AUTH_METHODS:
        raise ValueError(f"idp_token_endpoint_auth_method must be one of {', '.join(_IDP_AUTH_METHODS)}")
    if method in SECRET_METHODS and not secret:
        raise ValueError(f"idp_token_endpoint_auth_method={method!r} needs idp_client_secret")
    return Client(idp_client_id, secret, method or ("client_secret_basic" if secret else "none"))


class Grants:
    """The token requests of one OAuth configuration, each with its client authentication.

    Args:
        signing_key: the P-256 private scalar for ``private_key_jwt`` (``None``: no private key).
        idp_client: ``jwt_bearer``: this client at the identity provider.
        id_token: ``jwt_bearer``: the ID token, or a callable returning a current one.
        describe: ``fn()``: the MCP server, for messages.
    """

    def __init__(
        self, signing_key: Optional[int], idp_client: Optional[Client], id_token: IdToken, describe: Callable[[], str]
    ) -> None:
        self._signing_key = signing_key
        self._idp_client = idp_client
        self._id_token = id_token
        self._describe = describe

    def authorization_code(
        self, discovery: Discovery, client: Client, scopes: Tuple[str, ...], authorizer: Authorizer
    ) -> Flow[Dict[str, Any]]:
        """Authorization request with PKCE (S256), the user's approval, and the code exchange."""
        server = discovery.server
        assert server.authorization_endpoint is not None and client.redirect_uri is not None
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(24)
        params = [
            ("response_type", "code"),
            ("client_id", client.client_id),
            ("redirect_uri", client.redirect_uri),
            ("code_challenge", _s256(verifier)),
            ("code_challenge_method", "S256"),
            ("state", state),
        ]
        if scopes:
            params.append(("scope", " ".join(scopes)))
        params.append(("resource", discovery.resource))
        answer = authorizer.authorize(_with_query(server.authorization_endpoint, params), state)
        code = _check_callback(answer, state, server)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
            "resource": discovery.resource,
        }
        data = yield from self.request(server.token_endpoint, client, server.issuer, form)
        return data

    def client_credentials(self, discovery: Discovery, client: Client, scopes: Tuple[str, ...]) -> Flow[Dict[str, Any]]:
        """The ``client_credentials`` grant for ``scopes`` (machine to machine)."""
        form = {"grant_type": "client_credentials", "resource": discovery.resource}
        if scopes:
            form["scope"] = " ".join(scopes)
        data = yield from self.request(discovery.server.token_endpoint, client, discovery.server.issuer, form)
        return data

    def jwt_bearer(
        self, discovery: Discovery, client: Client, scopes: Tuple[str, ...], idp_token_endpoint: Optional[str]
    ) -> Flow[Dict[str, Any]]:
        """SEP-990: the ID token for an ID-JAG at the identity provider, the ID-JAG for tokens here.

        Raises:
            OAuthError: either token endpoint refused or is not HTTPS (off this machine), or
                the authorization server's issuer (the ID-JAG's audience) is unknown.
        """
        server = discovery.server
        if not server.has_metadata:
            raise OAuthError(
                f"the authorization server of {self._describe()} publishes no metadata: without its issuer, "
                "the audience of an ID-JAG, Enterprise-Managed Authorization (grant_type='jwt_bearer') cannot proceed"
            )
        assertion = yield from self._exchange_id_token(idp_token_endpoint, server.issuer, discovery.resource, scopes)
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion, "resource": discovery.resource}
        what = "the jwt-bearer token request with the ID-JAG"
        data = yield from self.request(server.token_endpoint, client, server.issuer, form, what=what)
        return data

    def refresh(self, creds: StoredCredentials, client: Client) -> Flow[Dict[str, Any]]:
        """Redeem the refresh token of ``creds``, which ``client`` obtained.

        Raises:
            OAuthError: no refresh token, or the token endpoint refused.
        """
        if not creds.refresh_token or not creds.token_endpoint:
            raise OAuthError(f"no refresh token is stored for {self._describe()}")
        form = {"grant_type": "refresh_token", "refresh_token": creds.refresh_token}
        if creds.resource:
            form["resource"] = creds.resource
        data = yield from self.request(creds.token_endpoint, client, creds.issuer, form)
        return data

    def _exchange_id_token(self, endpoint: Optional[str], audience: str, resource: str, scopes: Tuple[str, ...]) -> Flow[str]:
        """RFC 8693 token exchange at the identity provider: a fresh ID token for an ID-JAG.

        Raises:
            OAuthError: no ID token, an error response, or a token that is not an ID-JAG.
        """
        assert endpoint is not None and self._idp_client is not None
        require_https(endpoint, "the identity provider's token endpoint")
        fields = {
            "grant_type": _TOKEN_EXCHANGE_GRANT,
            "requested_token_type": _ID_JAG_TYPE,
            "audience": audience,
            "resource": resource,
            "subject_token": self._current_id_token(),
            "subject_token_type": _ID_TOKEN_TYPE,
        }
        if scopes:
            fields["scope"] = " ".join(scopes)
        logger.debug("exchanging an ID token for an ID-JAG at %s (audience %s)", redact_url(endpoint), redact_url(audience))
        what = "the identity provider's token exchange (ID token for ID-JAG)"
        data = yield from self._post(endpoint, self._idp_client, endpoint, fields, what)
        issued = data.get("issued_token_type")
        if issued != _ID_JAG_TYPE:
            raise OAuthError(
                f"the identity provider at {redact_url(endpoint)} issued a token of type {str(issued)[:100]!r}, "
                f"not an ID-JAG ({_ID_JAG_TYPE})",
                url=endpoint,
            )
        return str(data["access_token"])

    def _current_id_token(self) -> str:
        """The configured ID token, or the callable's current one.

        Raises:
            OAuthError: the callable failed or returned no token (``OAuthError`` and
                ``AuthenticationRequired`` it raises pass unchanged).
        """
        source = self._id_token
        if callable(source):
            try:
                token: object = source()
            except AuthenticationRequired:
                raise
            except Exception as exc:
                raise OAuthError(f"the id_token callable for {self._describe()} failed: {type(exc).__name__}: {exc}") from exc
        else:
            token = source
        if not isinstance(token, str) or not token.strip():
            raise OAuthError(f"the id_token callable for {self._describe()} returned no ID token")
        return token

    def request(
        self, endpoint: str, client: Client, issuer: str, form: Mapping[str, str], *, what: str = "the token request"
    ) -> Flow[Dict[str, Any]]:
        """POST to the token endpoint with the client's authentication; the token response.

        Raises:
            OAuthError: an error response, a response without a usable bearer token, or an
                endpoint that is not HTTPS (off this machine: a stored one may predate the rule).
        """
        require_https(endpoint, "the token endpoint")
        data = yield from self._post(endpoint, client, issuer, form, what)
        token_type = data.get("token_type")
        if token_type is not None and str(token_type).lower() != "bearer":
            raise OAuthError(f"the token endpoint {redact_url(endpoint)} issued a {token_type!r} token; only Bearer is supported")
        return data

    def _post(self, endpoint: str, client: Client, audience: str, form: Mapping[str, str], what: str) -> Flow[Dict[str, Any]]:
        """POST ``form``, the client authenticated (``audience``: of its assertion); a response with an ``access_token``.

        Raises:
            OAuthError: an error response, or no ``access_token`` in it.
        """
        fields = dict(form)
        headers = Headers({"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        self._authenticate(client, audience, fields, headers)
        response = yield HttpRequest("POST", endpoint, headers, urllib.parse.urlencode(fields).encode("ascii"))
        data = read_json(response)
        token = data.get("access_token") if isinstance(data, dict) else None
        if response.status != 200 or not isinstance(data, dict) or not isinstance(token, str) or not token:
            raise server_error(what, endpoint, response.status, data)
        return data

    def _authenticate(self, client: Client, issuer: str, fields: Dict[str, str], headers: Headers) -> None:
        """Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523)."""
        method = client.auth_method
        if method == "client_secret_basic" and client.client_secret:
            pair = f"{urllib.parse.quote_plus(client.client_id)}:{urllib.parse.quote_plus(client.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
            return
        fields["client_id"] = client.client_id
        if method == "client_secret_post" and client.client_secret:
            fields["client_secret"] = client.client_secret
        elif method == "private_key_jwt" and self._signing_key is not None:
            fields["client_assertion_type"] = _JWT_BEARER
            fields["client_assertion"] = client_assertion(client.client_id, issuer, self._signing_key)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(url: str, params: Sequence[Tuple[str, str]]) -> str:
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return f"{url}{'&' if urllib.parse.urlsplit(url).query else '?'}{query}"


def _check_callback(answer: Mapping[str, str], state: str, server: AuthServer) -> str:
    """The authorization code, after checking ``error``, ``state`` and ``iss`` (RFC 9207)."""
    if answer.get("error"):
        description = answer.get("error_description")
        detail = f": {description[:300]}" if description else ""
        raise OAuthError(
            f"the authorization server refused the login: {answer['error']}{detail}",
            error=answer["error"],
            error_description=description,
        )
    if answer.get("state") != state:
        raise OAuthError("the login callback carried an unexpected state parameter; the login was refused")
    iss = answer.get("iss")
    if server.has_metadata:
        if iss is not None and iss != server.issuer:
            raise OAuthError(
                f"the login callback came from issuer {redact_url(iss)}, not {redact_url(server.issuer)}: refused (RFC 9207)"
            )
        if iss is None and server.metadata.get("authorization_response_iss_parameter_supported") is True:
            raise OAuthError("the login callback lacks the iss parameter its authorization server promises (RFC 9207)")
    code = answer.get("code")
    if not code:
        raise OAuthError("the login callback carried no authorization code")
    return code


def _expires_at(data: Mapping[str, Any]) -> Optional[float]:
    expires_in = data.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        return None
    return time.time() + float(expires_in)


def new_credentials(
    data: Mapping[str, Any],
    discovery: Discovery,
    client: Client,
    requested: Tuple[str, ...],
    *,
    server_url: str,
    server_name: Optional[str],
) -> StoredCredentials:
    """The credentials a login's token response grants (the scopes requested, unless it names others).

    Args:
        data: the token response.
        discovery: where the login went.
        client: the client that logged in (a registered client's secret is kept).
        requested: the scopes requested.
        server_url: the store's key for the MCP server (its canonical URL).
        server_name: the server's configured name.
    """
    granted = strings(data.get("scope")) if isinstance(data.get("scope"), str) else requested
    return StoredCredentials(
        server_url=server_url,
        issuer=discovery.server.issuer,
        server_name=server_name,
        client_id=client.client_id,
        client_secret=client.client_secret if client.registered else None,
        token_endpoint_auth_method=client.auth_method,
        redirect_uri=client.redirect_uri,
        token_endpoint=discovery.server.token_endpoint,
        access_token=str(data["access_token"]),
        refresh_token=data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else None,
        expires_at=_expires_at(data),
        scopes=granted,
        resource=discovery.resource,
    )


def refreshed(base: StoredCredentials, data: Mapping[str, Any]) -> StoredCredentials:
    """``base`` with a refresh's tokens; a refresh token not rotated is kept."""
    rotated = data.get("refresh_token")
    scope = data.get("scope")
    return replace(
        base,
        access_token=str(data["access_token"]),
        refresh_token=rotated if isinstance(rotated, str) and rotated else base.refresh_token,
        expires_at=_expires_at(data),
        scopes=strings(scope) if isinstance(scope, str) else base.scopes,
    )
