"""The OAuth client (MCP authorization) against a scripted local authorization server and resource.

Every flow runs through ``drive_auth_flow`` and a real ``ConnectionPool`` against the servers of
``tests/servers/oauth_server.py``; the "browser" is :class:`HeadlessAuthorizer` (or the loopback
listener driven by the test itself). The scenarios mirror the MCP conformance suite's ``auth/*``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import syncmcp._exceptions as syncmcp_exceptions
from syncmcp._auth import Auth, BearerAuth, drive_auth_flow
from syncmcp._credentials import CredentialStore, StoredCredentials
from syncmcp._es256 import _G, _N, _point_add, _rfc6979_nonces, _scalar_mult, es256_sign, load_p256_private_key
from syncmcp._exceptions import AuthenticationRequired, HTTPError
from syncmcp._httpwire import ConnectionPool, Headers, HttpRequest, ProxySettings
from syncmcp._login import HeadlessAuthorizer, LoopbackAuthorizer, OAuthError
from syncmcp._oauth import OAuth, canonical_resource, parse_www_authenticate
from syncmcp._oauthdiscovery import require_https, resource_covers

from .conftest import syncmcp_threads, wait_until
from .servers.oauth_server import AuthOptions, Deployment, IdpOptions, ResourceOptions, deployment

BODY = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()


@pytest.fixture(autouse=True)
def private_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches the user's credential file."""
    path = tmp_path / "credentials.json"
    monkeypatch.setenv("SYNCMCP_CREDENTIALS", str(path))
    return path


@pytest.fixture
def pool() -> Iterator[ConnectionPool]:
    pool = ConnectionPool(proxies=ProxySettings())  # the environment's proxies must not see 127.0.0.1
    yield pool
    pool.close()


def make(d: Deployment, pool: ConnectionPool, **options: Any) -> OAuth:
    options.setdefault("store", CredentialStore.memory())
    options.setdefault("authorizer", HeadlessAuthorizer(pool))
    return OAuth(server_url=d.mcp_url, **options)


def call(oauth: Optional[OAuth], d: Deployment, pool: ConnectionPool, url: Optional[str] = None) -> int:
    request = HttpRequest("POST", url or d.mcp_url, Headers({"Content-Type": "application/json"}), BODY)
    response = drive_auth_flow(oauth, request, pool.send)
    try:
        response.read(65536)
    finally:
        response.close()
    return response.status


def auth_query(d: Deployment, index: int = -1) -> Dict[str, str]:
    return d.auth.authorization_requests[index]


# ----------------------------------------------------------------------------- discovery


def test_metadata_default_uses_the_header_prm_and_never_the_root_prm(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions(prm="path", prm_in_header=True)) as d:
        assert call(make(d, pool, client_metadata_url="https://client.test/meta.json"), d, pool) == 200
        assert d.resource.prm_requests == ["/.well-known/oauth-protected-resource/mcp"]
        assert d.auth.metadata_requests == ["/.well-known/oauth-authorization-server"]
        assert len(d.auth.registrations) == 1  # CIMD not advertised: dynamic registration
        query = auth_query(d)
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43 and query["state"]
        assert query["resource"] == d.mcp_url and "scope" not in query
        token = d.auth.token_requests[0]["form"]
        assert token["grant_type"] == "authorization_code" and token["resource"] == d.mcp_url
        assert 43 <= len(token["code_verifier"]) <= 128
        assert d.resource.statuses == [401, 200]


def test_path_based_prm_is_found_without_header_and_openid_configuration_is_the_fallback(pool: ConnectionPool) -> None:
    auth = AuthOptions(metadata_path="/.well-known/openid-configuration", openid=True)
    with deployment(auth, ResourceOptions(prm="path", prm_in_header=False)) as d:
        assert call(make(d, pool), d, pool) == 200
        assert d.resource.prm_requests == ["/.well-known/oauth-protected-resource/mcp"]
        assert d.auth.metadata_requests == ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]


def test_root_prm_and_an_issuer_with_a_path_use_the_path_inserted_metadata_url(pool: ConnectionPool) -> None:
    auth = AuthOptions(issuer_path="/tenant1")
    with deployment(auth, ResourceOptions(prm="root", prm_in_header=False)) as d:
        assert call(make(d, pool), d, pool) == 200
        assert d.resource.prm_requests == ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
        assert d.auth.metadata_requests == ["/.well-known/oauth-authorization-server/tenant1"]
        assert auth_query(d)["resource"] == d.resource.base  # the PRM's resource: the root


def test_custom_prm_location_and_tenant_openid_configuration_are_tried_in_order(pool: ConnectionPool) -> None:
    auth = AuthOptions(issuer_path="/tenant1", metadata_path="/tenant1/.well-known/openid-configuration", openid=True)
    with deployment(auth, ResourceOptions(prm="custom", prm_in_header=True)) as d:
        assert call(make(d, pool), d, pool) == 200
        assert d.resource.prm_requests == ["/custom/metadata/location.json"]
        assert d.auth.metadata_requests == [
            "/.well-known/oauth-authorization-server/tenant1",
            "/.well-known/openid-configuration/tenant1",
            "/tenant1/.well-known/openid-configuration",
        ]
        assert "/.well-known/oauth-authorization-server" not in d.auth.metadata_requests


def test_2025_03_26_server_without_prm_uses_metadata_at_its_origin(pool: ConnectionPool) -> None:
    auth = AuthOptions(issuer_path="/oauth", metadata_path="/.well-known/oauth-authorization-server")
    with deployment(auth, ResourceOptions(prm=None), same_origin=True) as d:
        assert call(make(d, pool), d, pool) == 200
        assert d.auth.metadata_requests == ["/.well-known/oauth-authorization-server"]
        assert auth_query(d)["resource"] == d.mcp_url
        assert len(d.auth.registrations) == 1 and len(d.auth.token_requests) == 1


def test_2025_03_26_server_without_any_metadata_uses_the_default_endpoints(pool: ConnectionPool) -> None:
    # Like the conformance fallback: the registration answers with a secret and no method.
    auth = AuthOptions(metadata_path=None, registration_auth_method="client_secret_basic", omit_registered_method=True)
    with deployment(auth, ResourceOptions(prm=None), same_origin=True) as d:
        assert call(make(d, pool), d, pool) == 200
        paths = [path for _method, path in d.auth.requests if not path.startswith("/.well-known")]
        assert paths == ["/register", "/authorize", "/token"]
        assert auth_query(d)["code_challenge_method"] == "S256"
        assert d.auth.token_requests[0]["auth_method"] == "client_secret_basic"


# ----------------------------------------------------------------------------- refusals


def test_metadata_naming_another_issuer_is_refused(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(issuer_override="https://evil.example.com"), ResourceOptions()) as d:
        with pytest.raises(OAuthError, match="another issuer"):
            call(make(d, pool), d, pool)
        assert d.auth.authorization_requests == [] and d.auth.registrations == []


@pytest.mark.parametrize("resource", ["https://evil.example.com/mcp", "{base}/other"])
def test_prm_for_another_resource_is_refused_before_any_authorization(pool: ConnectionPool, resource: str) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        d.resource.options.resource_override = resource.format(base=d.resource.base)
        with pytest.raises(OAuthError, match="refusing to authorize"):
            call(make(d, pool), d, pool)
        assert d.auth.requests == []


@pytest.mark.parametrize(
    ("resource", "server", "covers"),
    [
        ("https://a.test/mcp", "https://a.test/mcp", True),
        ("https://a.test", "https://a.test/mcp", True),
        ("https://a.test/", "https://a.test/mcp/", True),
        ("https://A.test:443/mcp/", "https://a.test/mcp", True),
        ("https://a.test/mc", "https://a.test/mcp", False),
        ("https://a.test/mcp", "https://a.test:8443/mcp", False),
        ("http://a.test/mcp", "https://a.test/mcp", False),
        ("https://evil.test/mcp", "https://a.test/mcp", False),
        ("not a url", "https://a.test/mcp", False),
    ],
)
def test_resource_must_cover_the_server_url(resource: str, server: str, covers: bool) -> None:
    assert resource_covers(resource, server) is covers


@pytest.mark.parametrize("methods", [None, ["plain"]])
def test_an_authorization_server_without_s256_pkce_is_refused(pool: ConnectionPool, methods: Optional[List[str]]) -> None:
    with deployment(AuthOptions(code_challenge_methods=methods), ResourceOptions()) as d:
        with pytest.raises(OAuthError, match="PKCE"):
            call(make(d, pool), d, pool)
        assert d.auth.authorization_requests == []


def test_a_forged_state_is_refused(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(state_override="forged"), ResourceOptions()) as d:
        with pytest.raises(OAuthError, match="state"):
            call(make(d, pool), d, pool)
        assert d.auth.token_requests == []


@pytest.mark.parametrize(
    ("advertise", "iss", "ok"),
    [
        (True, "issuer", True),
        (True, "none", False),
        (True, "https://evil.example.com", False),
        (False, "https://evil.example.com", False),
    ],
)
def test_the_iss_parameter_is_checked_exactly(pool: ConnectionPool, advertise: bool, iss: str, ok: bool) -> None:
    with deployment(AuthOptions(advertise_iss=advertise, iss_in_callback=iss), ResourceOptions()) as d:
        if ok:
            assert call(make(d, pool), d, pool) == 200
        else:
            with pytest.raises(OAuthError, match="iss"):
                call(make(d, pool), d, pool)
            assert d.auth.token_requests == []


def test_an_authorization_error_is_reported_with_its_code(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(authorization_error="access_denied"), ResourceOptions()) as d:
        with pytest.raises(OAuthError) as caught:
            call(make(d, pool), d, pool)
        assert caught.value.error == "access_denied" and "the user said no" in str(caught.value)


def test_without_an_authorizer_a_request_asks_the_user_to_log_in(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool, authorizer=None, server_name="github")
        with pytest.raises(AuthenticationRequired) as caught:
            call(oauth, d, pool)
        assert str(caught.value) == "MCP server 'github' requires OAuth login; run `syncmcp login github`"
        assert caught.value.status == 401 and d.auth.requests == []
        assert oauth.status() == "not_logged_in"


def test_tokens_are_never_sent_to_another_origin(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool)
        assert call(oauth, d, pool) == 200
        other = HttpRequest("POST", d.auth.base + "/elsewhere", Headers(), BODY)
        drive_auth_flow(oauth, other, pool.send).close()
        assert "Authorization" not in other.headers


# ----------------------------------------------------------------------------- clients


def test_client_id_metadata_document_is_used_when_advertised(pool: ConnectionPool) -> None:
    url = "https://conformance-test.local/client-metadata.json"
    with deployment(AuthOptions(cimd=True), ResourceOptions()) as d:
        assert call(make(d, pool, client_metadata_url=url), d, pool) == 200
        assert auth_query(d)["client_id"] == url and d.auth.registrations == []
        assert d.auth.token_requests[0]["client_id"] == url


def test_a_pre_registered_client_skips_registration_and_uses_basic_auth(pool: ConnectionPool) -> None:
    auth = AuthOptions(registration=False, auth_methods=["client_secret_basic"], clients={"pre-registered-client": "s3cr3t"})
    with deployment(auth, ResourceOptions()) as d:
        oauth = make(d, pool, client_id="pre-registered-client", client_secret="s3cr3t", store=CredentialStore())
        assert call(oauth, d, pool) == 200
        assert d.auth.token_requests[0]["auth_method"] == "client_secret_basic"
        assert d.auth.registrations == []
        stored = CredentialStore().load(canonical_resource(d.mcp_url))
        assert stored is not None and stored.client_secret is None  # the configured secret is not copied


def test_without_registration_or_client_id_the_error_says_what_to_configure(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(registration=False), ResourceOptions()) as d:
        with pytest.raises(OAuthError, match="client_id"):
            call(make(d, pool), d, pool)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
def test_the_token_endpoint_auth_method_the_server_supports_is_used(pool: ConnectionPool, method: str) -> None:
    with deployment(AuthOptions(auth_methods=[method]), ResourceOptions()) as d:
        assert call(make(d, pool), d, pool) == 200
        assert d.auth.registrations[0]["token_endpoint_auth_method"] == method
        assert [t["auth_method"] for t in d.auth.token_requests] == [method]
        assert auth_query(d)["resource"] == d.auth.token_requests[0]["form"]["resource"] == d.mcp_url


def test_a_stored_registration_is_reused_for_the_same_issuer(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        store = CredentialStore()
        assert call(make(d, pool, store=store), d, pool) == 200
        second = make(d, pool, store=store)
        second.login(pool.send)
        assert len(d.auth.registrations) == 1 and len(d.auth.authorization_requests) == 2


# ----------------------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    ("challenge", "configured", "supported", "expected"),
    [
        ("mcp:basic", ("other",), ["mcp:basic", "mcp:read"], "mcp:basic"),
        (None, ("files:read", "files:write"), ["mcp:basic"], "files:read files:write"),
        (None, (), ["mcp:basic", "mcp:read", "mcp:write"], "mcp:basic mcp:read mcp:write"),
        (None, (), None, None),
    ],
)
def test_scope_selection_prefers_the_challenge_then_configuration_then_prm(
    pool: ConnectionPool, challenge: Optional[str], configured: tuple, supported: Optional[List[str]], expected: Optional[str]
) -> None:
    with deployment(AuthOptions(), ResourceOptions(challenge_scope=challenge, scopes_supported=supported)) as d:
        assert call(make(d, pool, scopes=configured), d, pool) == 200
        assert auth_query(d).get("scope") == expected


@pytest.mark.parametrize(
    ("offered", "expected"), [(["mcp:basic", "offline_access"], "mcp:basic offline_access"), (["mcp:basic"], "mcp:basic")]
)
def test_offline_access_is_requested_only_when_the_authorization_server_lists_it(
    pool: ConnectionPool, offered: List[str], expected: str
) -> None:
    with deployment(AuthOptions(scopes_supported=offered), ResourceOptions(scopes_supported=["mcp:basic"])) as d:
        assert call(make(d, pool), d, pool) == 200
        assert auth_query(d)["scope"] == expected
        assert "refresh_token" in d.auth.registrations[0]["grant_types"]


def test_step_up_asks_for_the_union_of_held_and_challenged_scopes(pool: ConnectionPool) -> None:
    resource = ResourceOptions(challenge_scope="mcp:basic", required_scopes=("mcp:basic", "mcp:write"))
    with deployment(AuthOptions(), resource) as d:
        assert call(make(d, pool), d, pool) == 200
        assert [q.get("scope") for q in d.auth.authorization_requests] == ["mcp:basic", "mcp:basic mcp:write"]
        assert d.resource.statuses == [401, 403, 200]


@pytest.mark.parametrize(("max_step_ups", "authorizations"), [(2, 3), (0, 1)])
def test_step_ups_stop_at_the_limit(pool: ConnectionPool, max_step_ups: int, authorizations: int) -> None:
    resource = ResourceOptions(challenge_scope="mcp:admin", required_scopes=("mcp:admin",), always_403=True)
    with deployment(AuthOptions(), resource) as d:
        with pytest.raises(AuthenticationRequired) as caught:
            call(make(d, pool, max_step_ups=max_step_ups), d, pool)
        assert caught.value.status == 403 and "mcp:admin" in str(caught.value)
        assert len(d.auth.authorization_requests) == authorizations <= 3


# ----------------------------------------------------------------------------- refresh


def test_a_token_about_to_expire_is_refreshed_before_the_request(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(expires_in=10), ResourceOptions()) as d:
        oauth = make(d, pool, refresh_skew=30.0)
        assert call(oauth, d, pool) == 200
        first = oauth.credentials()
        assert call(oauth, d, pool) == 200
        grants = [t["form"]["grant_type"] for t in d.auth.token_requests]
        assert grants == ["authorization_code", "refresh_token"]
        second = oauth.credentials()
        assert first is not None and second is not None
        assert second.refresh_token != first.refresh_token  # the rotated refresh token was kept
        assert d.resource.mcp_requests[-1] == second.access_token and d.resource.statuses[-1] == 200
        assert d.auth.token_requests[1]["form"]["resource"] == d.mcp_url


def test_a_rejected_token_is_refreshed_once_and_the_request_retried(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool)
        assert call(oauth, d, pool) == 200
        d.tokens.revoke_all()
        assert call(oauth, d, pool) == 200
        assert [t["form"]["grant_type"] for t in d.auth.token_requests] == ["authorization_code", "refresh_token"]
        assert len(d.auth.authorization_requests) == 1


def test_invalid_grant_drops_the_tokens_and_asks_for_a_new_login(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        store = CredentialStore()
        make(d, pool, store=store).login(pool.send)
        d.tokens.revoke_all()
        d.auth.options.refresh_error = "invalid_grant"
        quiet = make(d, pool, store=store, authorizer=None, server_name="notes")
        with pytest.raises(AuthenticationRequired, match="syncmcp login notes"):
            call(quiet, d, pool)
        stored = store.load(canonical_resource(d.mcp_url))
        assert stored is not None and not stored.has_tokens and stored.client_id  # the registration stays
        assert quiet.status() == "not_logged_in"


def test_with_an_authorizer_a_failed_refresh_falls_back_to_a_new_login(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool)
        assert call(oauth, d, pool) == 200
        d.tokens.revoke_all()
        d.auth.options.refresh_error = "invalid_grant"
        assert call(oauth, d, pool) == 200
        assert len(d.auth.authorization_requests) == 2


class GatedAuthorizer(HeadlessAuthorizer):
    """Approves only once ``gate`` is set, so every concurrent request has met its 401 first."""

    def __init__(self, pool: ConnectionPool, gate: threading.Event) -> None:
        super().__init__(pool)
        self.gate = gate

    def authorize(self, url: str, state: str) -> Dict[str, str]:
        assert self.gate.wait(5)
        return super().authorize(url, state)


def run_threads(n: int, target: Any) -> List[Any]:
    results: List[Any] = [None] * n

    def run(index: int) -> None:
        try:
            results[index] = target()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"test-client-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_401s_share_one_login(pool: ConnectionPool) -> None:
    gate = threading.Event()
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool, authorizer=GatedAuthorizer(pool, gate))
        opener = threading.Thread(target=lambda: (d.resource.wait_for(401, 8), gate.set()), name="test-gate")
        opener.start()
        results = run_threads(8, lambda: call(oauth, d, pool))
        opener.join(5)
        assert results == [200] * 8
        assert len(d.auth.authorization_requests) == 1 and len(d.auth.registrations) == 1


def test_concurrent_requests_with_an_expiring_token_share_one_refresh(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(expires_in=5), ResourceOptions()) as d:
        oauth = make(d, pool, refresh_skew=30.0, store=CredentialStore())
        oauth.login(pool.send)
        d.auth.options.expires_in = 3600  # the refreshed token is good for long: no second refresh
        results = run_threads(8, lambda: call(oauth, d, pool))
        assert results == [200] * 8
        assert [t["form"]["grant_type"] for t in d.auth.token_requests].count("refresh_token") == 1


def test_a_refresh_by_another_process_is_adopted_instead_of_redeeming_again(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(expires_in=5), ResourceOptions()) as d:
        store = CredentialStore()
        one = make(d, pool, store=store, refresh_skew=30.0)
        one.login(pool.send)
        two = make(d, pool, store=store, refresh_skew=30.0)
        assert two.credentials() == one.credentials()
        d.auth.options.expires_in = 3600
        assert call(one, d, pool) == 200  # refreshes and stores the rotated token
        assert call(two, d, pool) == 200  # must not redeem the old (used) refresh token
        assert [t["form"]["grant_type"] for t in d.auth.token_requests].count("refresh_token") == 1


# ----------------------------------------------------------------------------- grants and persistence


def test_client_credentials_needs_no_browser(pool: ConnectionPool) -> None:
    auth = AuthOptions(grant_types=["client_credentials"], auth_methods=["client_secret_basic"], clients={"machine": "m-secret"})
    with deployment(auth, ResourceOptions()) as d:
        oauth = make(d, pool, authorizer=None, grant_type="client_credentials", client_id="machine", client_secret="m-secret")
        assert call(oauth, d, pool) == 200
        (token,) = d.auth.token_requests
        assert token["auth_method"] == "client_secret_basic" and token["form"]["grant_type"] == "client_credentials"
        assert token["form"]["resource"] == d.mcp_url and d.auth.authorization_requests == []


def test_client_credentials_without_a_secret_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="client_credentials"):
        OAuth(server_url="https://a.test/mcp", grant_type="client_credentials", client_id="x", store=CredentialStore.memory())


def test_tokens_persist_across_oauth_instances(pool: ConnectionPool, private_credentials: Path) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        first = make(d, pool, store=CredentialStore(), server_name="notes")
        assert first.status() == "not_logged_in"
        first.login(pool.send)
        assert (private_credentials.stat().st_mode & 0o777) == 0o600
        second = OAuth(server_url=d.mcp_url, server_name="notes")  # default store: $SYNCMCP_CREDENTIALS
        assert second.status() == "oauth" and second.has_credentials()
        assert call(second, d, pool) == 200
        assert len(d.auth.authorization_requests) == 1
        assert second.logout() is True and second.status() == "not_logged_in"
        assert not private_credentials.exists()
        assert second.logout() is False


def test_login_probes_the_server_for_its_challenge(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions(prm="custom", challenge_scope="notes:read")) as d:
        oauth = make(d, pool)
        creds = oauth.login(pool.send)
        assert creds.scopes == ("notes:read",) and auth_query(d)["scope"] == "notes:read"
        assert d.resource.prm_requests == ["/custom/metadata/location.json"]
        assert oauth.login(pool.send, ["notes:write"]).scopes == ("notes:write",)  # logs in again, even with tokens


def test_login_accepts_a_challenge_already_received(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions(prm="custom")) as d:
        challenge = f'Bearer resource_metadata="{d.resource.prm_url}", scope="a b"'
        make(d, pool).login(pool.send, challenge=challenge)
        assert d.resource.statuses == [] and auth_query(d)["scope"] == "a b"


def test_no_token_or_secret_appears_in_reprs_errors_or_logs(pool: ConnectionPool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="syncmcp")
    errors: List[str] = []
    with deployment(AuthOptions(auth_methods=["client_secret_post"]), ResourceOptions()) as d:
        store = CredentialStore()
        oauth = make(d, pool, store=store, server_name="notes")
        oauth.login(pool.send)
        d.tokens.revoke_all()
        d.auth.options.refresh_error = "invalid_grant"
        try:
            call(make(d, pool, store=store, authorizer=None, server_name="notes"), d, pool)
        except AuthenticationRequired as exc:
            errors.append(str(exc))
            errors.append(str(exc.__cause__))
        creds = store.load(canonical_resource(d.mcp_url))
        secrets = [oauth.credentials().access_token, oauth.credentials().refresh_token]  # type: ignore[union-attr]
        secrets += [creds.client_secret]  # type: ignore[union-attr]
        secrets += [t["form"].get(k) for t in d.auth.token_requests for k in ("code", "code_verifier", "client_secret")]
        shown = " ".join([repr(oauth), repr(oauth.credentials()), repr(creds), repr(store), *errors, caplog.text])
    found = [s for s in secrets if s and s in shown]
    assert errors and found == []


# ----------------------------------------------------------------------------- loopback and headless authorizers


def browser(pool: ConnectionPool, url: str) -> int:
    """What a browser does: follow the authorization server's redirect to the callback."""
    with pool.send(HttpRequest("GET", url)) as response:
        location = response.headers.get("location")
    assert location is not None
    with pool.send(HttpRequest("GET", location)) as callback:
        page = callback.read(65536)
    assert b"You can close this window" in page
    return callback.status


def test_loopback_login_end_to_end(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        with LoopbackAuthorizer(open_browser=False, timeout=5, announce=lambda url: browser(pool, url)) as authorizer:
            oauth = make(d, pool, authorizer=authorizer)
            assert call(oauth, d, pool) == 200
            redirect = auth_query(d)["redirect_uri"]
            assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/callback")
            assert d.auth.registrations[0]["application_type"] == "native"
        assert syncmcp_threads() == []


def test_loopback_returns_the_callback_parameters(pool: ConnectionPool) -> None:
    seen: List[str] = []

    def visit(url: str) -> None:
        seen.append(url)
        with pool.send(HttpRequest("GET", authorizer.redirect_uri + "?code=c0de&state=s1&iss=https%3A%2F%2Fas.test")) as r:
            assert r.status == 200 and b"Login complete" in r.read(65536)

    with LoopbackAuthorizer(open_browser=False, timeout=5, announce=visit) as authorizer:
        assert authorizer.authorize("https://as.test/authorize?x=1", "s1") == {
            "code": "c0de",
            "state": "s1",
            "iss": "https://as.test",
        }
        assert seen == ["https://as.test/authorize?x=1"]
        assert syncmcp_threads() == []  # the listener stops once the login is done
    authorizer.close()  # idempotent


def test_loopback_refuses_a_callback_with_another_state(pool: ConnectionPool) -> None:
    def visit(url: str) -> None:
        pool.send(HttpRequest("GET", authorizer.redirect_uri + "?code=c&state=other")).close()

    with LoopbackAuthorizer(open_browser=False, timeout=5, announce=visit) as authorizer:
        with pytest.raises(OAuthError, match="state"):
            authorizer.authorize("https://as.test/authorize", "mine")


def test_loopback_times_out_and_stops_listening() -> None:
    with LoopbackAuthorizer(open_browser=False, timeout=0.2, announce=lambda url: None) as authorizer:
        with pytest.raises(AuthenticationRequired, match="not completed within 0.2 s"):
            authorizer.authorize("https://as.test/authorize", "s")
        assert syncmcp_threads() == []


def test_loopback_announces_on_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    with LoopbackAuthorizer(open_browser=False, timeout=0.05) as authorizer:
        with pytest.raises(AuthenticationRequired):
            authorizer.authorize("https://as.test/authorize?client_id=x", "s")
    assert "Open this URL to log in: https://as.test/authorize?client_id=x" in capsys.readouterr().err


def test_loopback_keeps_its_port_between_logins() -> None:
    with LoopbackAuthorizer(open_browser=False, timeout=0.05, announce=lambda url: None) as authorizer:
        first = authorizer.redirect_uri
        with pytest.raises(AuthenticationRequired):
            authorizer.authorize("https://as.test/a", "s")
        assert authorizer.redirect_uri == first
    with pytest.raises(RuntimeError, match="closed"):
        authorizer.redirect_uri  # noqa: B018


def test_headless_authorizer_needs_a_redirect(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        with HeadlessAuthorizer(pool) as authorizer:
            with pytest.raises(AuthenticationRequired, match="instead of a redirect"):
                authorizer.authorize(d.auth.base + "/nowhere", "s")


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer resource_metadata="https://a.test/prm", scope="x y"',
            {"resource_metadata": "https://a.test/prm", "scope": "x y"},
        ),
        ("Bearer realm=example, error=invalid_token", {"realm": "example", "error": "invalid_token"}),
        ('bearer scope="a \\"q\\" b"', {"scope": 'a "q" b'}),
        ('Basic realm="r", Bearer error="insufficient_scope"', {"error": "insufficient_scope"}),
        ('Negotiate abc==, Bearer scope="s"', {"scope": "s"}),
        ("Bearer", {}),
        ('Basic realm="only"', None),
        ("", None),
    ],
)
def test_www_authenticate_parsing(header: str, expected: Optional[Dict[str, str]]) -> None:
    assert parse_www_authenticate(header) == expected


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM/mcp", "https://example.com/mcp"),
        ("https://e.test:443/", "https://e.test"),
        ("http://[::1]:80/x#f", "http://[::1]/x"),
    ],
)
def test_canonical_resource(url: str, canonical: str) -> None:
    assert canonical_resource(url) == canonical


# ----------------------------------------------------------------------------- private_key_jwt (ES256)

# A throwaway P-256 test key made with OpenSSL, in PKCS#8 and SEC 1 form, and its public point as
# OpenSSL printed it.
PKCS8_PEM = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAxbUfgLu8TBNMsp2
b/mR2lD5smqUtyOglklqdthhpDShRANCAAQyk3nEelHm2NkG8u1YQI30IIL/ARKe
jsCVhpATbYDvCsLBv2GY+p2bfSF787cVFANiaqTHcNwnae7MYy7+7LDC
-----END PRIVATE KEY-----
"""
SEC1_PEM = """-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIAMW1H4C7vEwTTLKdm/5kdpQ+bJqlLcjoJZJanbYYaQ0oAoGCCqGSM49
AwEHoUQDQgAEMpN5xHpR5tjZBvLtWECN9CCC/wESno7AlYaQE22A7wrCwb9hmPqd
m30he/O3FRQDYmqkx3DcJ2nuzGMu/uywwg==
-----END EC PRIVATE KEY-----
"""
PUBLIC = (
    0x329379C47A51E6D8D906F2ED58408DF42082FF01129E8EC0958690136D80EF0A,
    0xC2C1BF6198FA9D9B7D217BF3B7151403626AA4C770DC2769EECC632EFEECB0C2,
)


@pytest.mark.parametrize(
    ("message", "k", "r", "s"),
    [  # RFC 6979 A.2.5, P-256 with SHA-256
        (
            b"sample",
            0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60,
            0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
            0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8,
        ),
        (
            b"test",
            0xD16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0,
            0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
            0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083,
        ),
    ],
)
def test_es256_signatures_match_the_rfc_6979_vectors(message: bytes, k: int, r: int, s: int) -> None:
    key = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
    assert next(iter(_rfc6979_nonces(key, hashlib.sha256(message).digest()))) == k
    assert es256_sign(key, message) == r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize("pem", [PKCS8_PEM, SEC1_PEM])
def test_p256_private_keys_load_from_pkcs8_and_sec1(pem: str) -> None:
    assert _scalar_mult(load_p256_private_key(pem), _G) == PUBLIC


@pytest.mark.parametrize(
    "pem", ["", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", PKCS8_PEM.replace("MIGHAg", "MIGHAh")]
)
def test_bad_private_keys_are_refused_without_quoting_them(pem: str) -> None:
    with pytest.raises(ValueError) as caught:
        OAuth(server_url="https://a.test/mcp", private_key_pem=pem, store=CredentialStore.memory())
    assert "AAAA" not in str(caught.value) and "MIGH" not in str(caught.value)


def verify_es256(public: Any, message: bytes, signature: bytes) -> bool:
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    e = int.from_bytes(hashlib.sha256(message).digest(), "big")
    w = pow(s, -1, _N)
    point = _point_add(_scalar_mult(e * w % _N, _G), _scalar_mult(r * w % _N, public))
    return point is not None and point[0] % _N == r


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_client_credentials_with_a_private_key_jwt_assertion(pool: ConnectionPool) -> None:
    auth = AuthOptions(
        grant_types=["client_credentials"],
        auth_methods=["private_key_jwt"],
        clients={"jwt-client": None},
        client_methods={"jwt-client": "private_key_jwt"},
    )
    with deployment(auth, ResourceOptions()) as d:
        oauth = make(d, pool, authorizer=None, grant_type="client_credentials", client_id="jwt-client", private_key_pem=PKCS8_PEM)
        assert call(oauth, d, pool) == 200
        form = d.auth.token_requests[0]["form"]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header, claims, signature = form["client_assertion"].split(".")
    assert json.loads(b64decode(header)) == {"alg": "ES256", "typ": "JWT"}
    payload = json.loads(b64decode(claims))
    assert payload["iss"] == payload["sub"] == "jwt-client" and payload["aud"] == d.auth.issuer
    assert payload["exp"] - payload["iat"] == 300 and payload["jti"]
    assert verify_es256(PUBLIC, f"{header}.{claims}".encode(), b64decode(signature))
    assert "client_secret" not in form


def test_the_default_credential_file_follows_the_environment(private_credentials: Path) -> None:
    assert CredentialStore().path == private_credentials
    assert os.environ["SYNCMCP_CREDENTIALS"] == str(private_credentials)


def test_a_callback_url_query_is_parsed_like_a_browser_would() -> None:
    query = urllib.parse.urlencode({"code": "a b", "state": "s"})
    from syncmcp._login import callback_parameters

    assert callback_parameters(f"http://127.0.0.1:1/callback?{query}") == {"code": "a b", "state": "s"}


def test_a_token_stored_by_another_process_is_taken_up_on_401(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        store = CredentialStore()
        quiet = make(d, pool, store=store, authorizer=None, server_name="notes")
        with pytest.raises(AuthenticationRequired):
            call(quiet, d, pool)
        make(d, pool, store=store).login(pool.send)  # e.g. `syncmcp login notes` in a terminal
        assert call(quiet, d, pool) == 200
        assert len(d.auth.authorization_requests) == 1


def test_concurrent_requests_that_cannot_log_in_all_get_the_login_hint(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool, authorizer=None, server_name="notes")
        results = run_threads(6, lambda: call(oauth, d, pool))
        assert all(isinstance(r, AuthenticationRequired) and "syncmcp login notes" in str(r) for r in results)
        assert d.auth.requests == []


def test_the_loopback_listener_stops_when_a_login_fails_before_the_browser(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(registration=False), ResourceOptions()) as d:
        with LoopbackAuthorizer(open_browser=False, timeout=5, announce=lambda url: None) as authorizer:
            with pytest.raises(OAuthError, match="client_id"):
                call(make(d, pool, authorizer=authorizer), d, pool)
            assert syncmcp_threads() == []


def test_the_flow_leaves_the_mcp_response_body_unread(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        request = HttpRequest("POST", d.mcp_url, Headers({"Content-Type": "application/json"}), BODY)
        with drive_auth_flow(make(d, pool), request, pool.send) as response:
            assert response.status == 200 and not response.done
            assert [tool["name"] for tool in json.loads(response.read(65536))["result"]["tools"]] == ["whoami"]


def test_a_step_up_without_an_authorizer_names_the_scopes_to_log_in_with(pool: ConnectionPool) -> None:
    resource = ResourceOptions(challenge_scope="mcp:basic", required_scopes=("mcp:basic", "mcp:write"))
    with deployment(AuthOptions(), resource) as d:
        store = CredentialStore.memory()
        make(d, pool, store=store).login(pool.send)
        with pytest.raises(AuthenticationRequired) as caught:
            call(make(d, pool, store=store, authorizer=None, server_name="notes"), d, pool)
        assert caught.value.status == 403
        assert str(caught.value) == (
            "MCP server 'notes' requires mcp:basic mcp:write; run `syncmcp login notes --scopes mcp:basic,mcp:write`"
        )


class FakeBrowser:
    def __init__(self) -> None:
        self.opened: List[str] = []

    def open(self, url: str) -> bool:
        self.opened.append(url)
        return True


def test_the_browser_is_opened_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    fake = FakeBrowser()
    monkeypatch.setattr(webbrowser, "get", lambda: fake)
    announced: List[str] = []
    with LoopbackAuthorizer(timeout=0.05, announce=announced.append) as authorizer:
        with pytest.raises(AuthenticationRequired):
            authorizer.authorize("https://as.test/authorize", "s")
    assert fake.opened == announced == ["https://as.test/authorize"]


def test_without_a_browser_the_url_is_still_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    def no_browser() -> Any:
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "get", no_browser)
    announced: List[str] = []
    with LoopbackAuthorizer(timeout=0.05, announce=announced.append) as authorizer:
        with pytest.raises(AuthenticationRequired):
            authorizer.authorize("https://as.test/authorize", "s")
    assert announced == ["https://as.test/authorize"]


def test_in_a_jupyter_kernel_the_url_is_displayed_as_a_link(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys
    import types

    from syncmcp._login import announce_login_url

    shown: List[Any] = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())  # type: ignore[attr-defined]
    display = types.ModuleType("IPython.display")
    display.HTML = lambda html: ("HTML", html)  # type: ignore[attr-defined]
    display.display = shown.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    announce_login_url("https://as.test/authorize?a=1&b=<2>")
    assert shown == [
        (
            "HTML",
            '<a href="https://as.test/authorize?a=1&amp;b=&lt;2&gt;" target="_blank" rel="noopener">Open this link to log in</a>',
        )
    ]
    assert capsys.readouterr().err == ""
    ipython.get_ipython = lambda: None  # type: ignore[attr-defined]  # IPython, but a terminal: stderr
    announce_login_url("https://as.test/x")
    assert "Open this URL to log in: https://as.test/x" in capsys.readouterr().err


# ----------------------------------------------------------------------------- jwt_bearer: Enterprise-Managed Authorization (SEP-990)

MCP_CLIENT = {"mcp-client": "mcp-secret"}
XAA_AUTH: Dict[str, Any] = {
    "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
    "auth_methods": ["client_secret_basic"],
    "registration": False,
    "code_challenge_methods": None,
}


def xaa_auth(**options: Any) -> AuthOptions:
    """An authorization server that only redeems ID-JAGs, for the pre-registered ``mcp-client``."""
    return AuthOptions(**{**XAA_AUTH, "clients": dict(MCP_CLIENT), **options})


def xaa(d: Deployment, pool: ConnectionPool, **options: Any) -> OAuth:
    """An ``OAuth`` for the jwt-bearer grant, with a fresh ID token from the deployment's IdP."""
    assert d.idp is not None
    options.setdefault("id_token", d.idp.issue_id_token())
    options.setdefault("client_id", "mcp-client")
    options.setdefault("client_secret", "mcp-secret")
    options.setdefault("authorizer", None)
    return make(d, pool, grant_type="jwt_bearer", idp_token_endpoint=d.idp.base + "/token", idp_client_id="idp-client", **options)


def test_jwt_bearer_exchanges_the_id_token_for_an_id_jag_and_redeems_it(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(), ResourceOptions(challenge_scope="mcp:read"), idp=IdpOptions()) as d:
        assert d.idp is not None
        id_token = d.idp.issue_id_token()
        oauth = xaa(d, pool, id_token=id_token)
        assert call(oauth, d, pool) == 200
        (exchange,) = d.idp.exchanges
        assert exchange["form"] == {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
            "audience": d.auth.issuer,
            "resource": d.mcp_url,
            "subject_token": id_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "scope": "mcp:read",
            "client_id": "idp-client",
        }
        assert exchange["auth_method"] == "none"
        (token,) = d.auth.token_requests
        assert token["form"] == {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": d.idp.issued[0],
            "resource": d.mcp_url,
        }
        assert token["auth_method"] == "client_secret_basic" and token["client_id"] == "mcp-client"
        assert d.auth.authorization_requests == [] and d.auth.registrations == []
        assert d.resource.statuses == [401, 200]
        creds = oauth.credentials()
        assert creds is not None and creds.access_token == d.resource.mcp_requests[-1]
        assert creds.refresh_token is None and creds.scopes == ("mcp:read",) and creds.client_secret is None
        assert oauth.status() == "oauth"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_jwt_bearer_authenticates_a_confidential_client_at_the_identity_provider(pool: ConnectionPool, method: str) -> None:
    idp = IdpOptions(clients={"idp-client": "idp-secret"}, client_methods={"idp-client": method})
    auth = xaa_auth(auth_methods=["client_secret_post"], client_methods={"mcp-client": "client_secret_post"})
    with deployment(auth, ResourceOptions(), idp=idp) as d:
        oauth = xaa(d, pool, idp_client_secret="idp-secret", idp_token_endpoint_auth_method=method)
        assert call(oauth, d, pool) == 200
        assert d.idp is not None and [e["auth_method"] for e in d.idp.exchanges] == [method]
        assert [t["auth_method"] for t in d.auth.token_requests] == ["client_secret_post"]  # what the AS supports


def test_jwt_bearer_login_works_without_a_request(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(), ResourceOptions(), idp=IdpOptions()) as d:
        creds = xaa(d, pool).login(pool.send)
        assert creds.access_token and d.resource.statuses == [401]  # the probe only
        assert d.idp is not None and len(d.idp.exchanges) == 1


def test_a_refused_token_exchange_is_an_oauth_error_without_the_id_token(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(), ResourceOptions(), idp=IdpOptions(exchange_error="access_denied")) as d:
        assert d.idp is not None
        id_token = d.idp.issue_id_token()
        with pytest.raises(OAuthError) as caught:
            call(xaa(d, pool, id_token=id_token), d, pool)
        message = str(caught.value)
        assert caught.value.error == "access_denied" and caught.value.status == 400
        assert message.startswith("the identity provider's token exchange (ID token for ID-JAG) at " + d.idp.base)
        assert "the IdP policy refuses" in message and id_token not in message
        assert d.auth.token_requests == []


def test_an_unknown_id_token_is_refused_by_the_identity_provider(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(), ResourceOptions(), idp=IdpOptions()) as d:
        with pytest.raises(OAuthError, match="Invalid ID token") as caught:
            call(xaa(d, pool, id_token="eyJforged.id.token"), d, pool)
        assert caught.value.error == "invalid_grant" and d.auth.token_requests == []


def test_an_id_jag_the_authorization_server_refuses_is_an_oauth_error(pool: ConnectionPool) -> None:
    # The IdP names another client in the ID-JAG than the one authenticating at the AS.
    with deployment(xaa_auth(), ResourceOptions(), idp=IdpOptions(mcp_client_id="someone-else")) as d:
        with pytest.raises(OAuthError) as caught:
            call(xaa(d, pool), d, pool)
        message = str(caught.value)
        assert caught.value.error == "invalid_grant"
        assert message.startswith("the jwt-bearer token request with the ID-JAG at " + d.auth.base)
        assert "client_id does not match" in message
        assert d.idp is not None and d.idp.issued[0] not in message
        assert d.resource.statuses == [401]


def test_a_token_that_is_not_an_id_jag_is_refused(pool: ConnectionPool) -> None:
    idp = IdpOptions(issued_token_type="urn:ietf:params:oauth:token-type:access_token")
    with deployment(xaa_auth(), ResourceOptions(), idp=idp) as d:
        with pytest.raises(OAuthError, match="not an ID-JAG"):
            call(xaa(d, pool), d, pool)
        assert d.auth.token_requests == []


def test_an_authorization_server_without_the_jwt_bearer_grant_is_refused_before_the_exchange(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(grant_types=["authorization_code"]), ResourceOptions(), idp=IdpOptions()) as d:
        with pytest.raises(OAuthError, match="jwt-bearer"):
            call(xaa(d, pool), d, pool)
        assert d.idp is not None and d.idp.exchanges == []


def test_jwt_bearer_needs_authorization_server_metadata_for_the_audience(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(metadata_path=None), ResourceOptions(prm=None), same_origin=True, idp=IdpOptions()) as d:
        with pytest.raises(OAuthError, match="publishes no metadata"):
            call(xaa(d, pool), d, pool)
        assert d.idp is not None and d.idp.exchanges == []


def test_a_rejected_token_means_a_new_exchange_with_a_fresh_id_token(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(), ResourceOptions(), idp=IdpOptions()) as d:
        assert d.idp is not None
        handed: List[str] = []

        def fresh_id_token() -> str:
            handed.append(d.idp.issue_id_token())  # type: ignore[union-attr]
            return handed[-1]

        oauth = xaa(d, pool, id_token=fresh_id_token)
        assert call(oauth, d, pool) == 200
        d.tokens.revoke_all()
        assert call(oauth, d, pool) == 200
        assert [e["form"]["subject_token"] for e in d.idp.exchanges] == handed and len(handed) == 2
        assert [t["form"]["assertion"] for t in d.auth.token_requests] == d.idp.issued
        assert d.resource.statuses == [401, 200, 401, 200]


def test_a_token_about_to_expire_is_replaced_by_a_new_exchange_before_the_request(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(expires_in=10), ResourceOptions(), idp=IdpOptions()) as d:
        oauth = xaa(d, pool, refresh_skew=30.0)
        assert call(oauth, d, pool) == 200
        first = oauth.credentials()
        d.auth.options.expires_in = 3600
        assert call(oauth, d, pool) == 200
        assert call(oauth, d, pool) == 200  # the new token is good for long: no third exchange
        assert d.idp is not None and len(d.idp.exchanges) == 2
        assert d.resource.statuses == [401, 200, 200, 200]
        second = oauth.credentials()
        assert first is not None and second is not None and second.access_token != first.access_token


def test_a_failed_exchange_ahead_of_expiry_leaves_the_request_its_still_valid_token(
    pool: ConnectionPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syncmcp")
    with deployment(xaa_auth(expires_in=10), ResourceOptions(), idp=IdpOptions()) as d:
        oauth = xaa(d, pool, refresh_skew=30.0)
        assert call(oauth, d, pool) == 200
        assert d.idp is not None
        d.idp.options.exchange_error = "temporarily_unavailable"
        assert call(oauth, d, pool) == 200
        assert len(d.idp.exchanges) == 2 and d.resource.statuses == [401, 200, 200]
        assert "ahead of its expiry" in caplog.text and "temporarily_unavailable" in caplog.text


def test_a_client_credentials_token_about_to_expire_is_replaced_before_the_request(pool: ConnectionPool) -> None:
    auth = AuthOptions(
        grant_types=["client_credentials"], auth_methods=["client_secret_basic"], clients={"machine": "m"}, expires_in=10
    )
    with deployment(auth, ResourceOptions()) as d:
        oauth = make(d, pool, authorizer=None, grant_type="client_credentials", client_id="machine", client_secret="m")
        assert call(oauth, d, pool) == 200
        assert call(oauth, d, pool) == 200
        assert [t["form"]["grant_type"] for t in d.auth.token_requests] == ["client_credentials"] * 2
        assert d.resource.statuses == [401, 200, 200]


def test_a_refresh_token_from_the_authorization_server_is_used_before_a_new_exchange(pool: ConnectionPool) -> None:
    with deployment(xaa_auth(jwt_bearer_refresh=True), ResourceOptions(), idp=IdpOptions()) as d:
        oauth = xaa(d, pool)
        assert call(oauth, d, pool) == 200
        d.tokens.revoke_all()
        assert call(oauth, d, pool) == 200
        grants = [t["form"]["grant_type"] for t in d.auth.token_requests]
        assert grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"]
        assert d.idp is not None and len(d.idp.exchanges) == 1


def test_a_step_up_exchanges_again_for_the_union_of_the_scopes(pool: ConnectionPool) -> None:
    resource = ResourceOptions(challenge_scope="mcp:basic", required_scopes=("mcp:basic", "mcp:write"))
    with deployment(xaa_auth(), resource, idp=IdpOptions()) as d:
        assert d.idp is not None
        assert call(xaa(d, pool, id_token=d.idp.issue_id_token), d, pool) == 200
        assert [e["form"]["scope"] for e in d.idp.exchanges] == ["mcp:basic", "mcp:basic mcp:write"]
        assert d.resource.statuses == [401, 403, 200]


def test_concurrent_401s_share_one_exchange(pool: ConnectionPool) -> None:
    gate = threading.Event()
    with deployment(xaa_auth(), ResourceOptions(), idp=IdpOptions()) as d:
        assert d.idp is not None
        id_token = d.idp.issue_id_token()

        def gated_id_token() -> str:
            assert gate.wait(5)  # every request has met its 401 before the exchange
            return id_token

        def open_gate() -> None:
            d.resource.wait_for(401, 8)
            gate.set()

        oauth = xaa(d, pool, id_token=gated_id_token)
        opener = threading.Thread(target=open_gate, name="test-gate")
        opener.start()
        results = run_threads(8, lambda: call(oauth, d, pool))
        opener.join(5)
        assert results == [200] * 8
        assert len(d.idp.exchanges) == 1 and len(d.auth.token_requests) == 1


def test_a_failing_id_token_callable_is_an_oauth_error(pool: ConnectionPool) -> None:
    def no_session() -> str:
        raise RuntimeError("the SSO session has ended")

    with deployment(xaa_auth(), ResourceOptions(), idp=IdpOptions()) as d:
        with pytest.raises(OAuthError, match="id_token callable .* failed: RuntimeError: the SSO session has ended"):
            call(xaa(d, pool, id_token=no_session), d, pool)
        with pytest.raises(OAuthError, match="returned no ID token"):
            call(xaa(d, pool, id_token=lambda: ""), d, pool)
        assert d.idp is not None and d.idp.exchanges == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"idp_token_endpoint": "https://idp.test/token", "idp_client_id": "c", "id_token": "t"}, "needs client_id"),
        ({"client_id": "m", "idp_client_id": "c", "id_token": "t"}, "needs idp_token_endpoint"),
        ({"client_id": "m", "idp_token_endpoint": "ftp://idp.test/token", "idp_client_id": "c", "id_token": "t"}, "http"),
        ({"client_id": "m", "idp_token_endpoint": "https://idp.test/token", "id_token": "t"}, "needs idp_client_id"),
        ({"client_id": "m", "idp_token_endpoint": "https://idp.test/token", "idp_client_id": "c"}, "needs id_token"),
        (
            {
                "client_id": "m",
                "idp_token_endpoint": "https://idp.test/token",
                "idp_client_id": "c",
                "id_token": "t",
                "idp_token_endpoint_auth_method": "client_secret_post",
            },
            "needs idp_client_secret",
        ),
        (
            {
                "client_id": "m",
                "idp_token_endpoint": "https://idp.test/token",
                "idp_client_id": "c",
                "id_token": "t",
                "idp_token_endpoint_auth_method": "private_key_jwt",
            },
            "must be one of",
        ),
    ],
)
def test_jwt_bearer_arguments_are_checked_at_construction(options: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OAuth(server_url="https://a.test/mcp", grant_type="jwt_bearer", store=CredentialStore.memory(), **options)


def test_identity_provider_arguments_are_refused_with_another_grant() -> None:
    with pytest.raises(ValueError, match="id_token, .*only for grant_type='jwt_bearer'|only for grant_type='jwt_bearer'"):
        OAuth(server_url="https://a.test/mcp", id_token="t", idp_client_id="c", store=CredentialStore.memory())


def test_no_id_token_id_jag_or_secret_appears_in_reprs_errors_or_logs(
    pool: ConnectionPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="syncmcp")
    errors: List[str] = []
    idp = IdpOptions(clients={"idp-client": "idp-secret"})
    with deployment(xaa_auth(), ResourceOptions(), idp=idp) as d:
        assert d.idp is not None
        store = CredentialStore()
        id_token = d.idp.issue_id_token()
        oauth = xaa(d, pool, store=store, server_name="notes", id_token=id_token, idp_client_secret="idp-secret")
        assert call(oauth, d, pool) == 200
        d.tokens.revoke_all()
        d.auth.options.clients = {"mcp-client": "another-secret"}  # the AS now refuses the client
        try:
            call(oauth, d, pool)
        except AuthenticationRequired as exc:
            errors += [str(exc), repr(exc), str(exc.__cause__)]
        d.idp.options.exchange_error = "invalid_grant"
        try:
            call(xaa(d, pool, store=CredentialStore.memory(), id_token=id_token, idp_client_secret="idp-secret"), d, pool)
        except AuthenticationRequired as exc:
            errors += [str(exc), repr(exc)]
        creds = oauth.credentials()
        secrets = [id_token, "idp-secret", "mcp-secret", *d.idp.issued, creds.access_token if creds else None]
        shown = " ".join([repr(oauth), repr(creds), repr(store), *errors, caplog.text])
    found = [s for s in secrets if s and s in shown]
    assert len(errors) == 5 and found == []


# ----------------------------------------------------------------------------- the transport's hooks: close, authorize_now


def mcp_delete(url: str) -> HttpRequest:
    return HttpRequest("DELETE", url, Headers({"Mcp-Session-Id": "s-1"}))


def test_authorize_now_of_the_base_and_bearer_auths() -> None:
    request = mcp_delete("https://api.test/mcp")
    assert Auth().authorize_now(request) is True and "Authorization" not in request.headers
    assert BearerAuth("s3cret").authorize_now(request) is True
    assert request.headers["Authorization"] == "Bearer s3cret"
    Auth().close()
    BearerAuth("s3cret").close()  # nothing waits for the user: nothing to stop


def test_oauth_authorize_now_uses_the_token_held_or_stored_without_any_request() -> None:
    store = CredentialStore.memory()
    oauth = OAuth(server_url="https://api.test/mcp", store=store)  # nothing listens there: no request may go out
    request = mcp_delete("https://api.test/mcp")
    assert oauth.authorize_now(request) is False and "Authorization" not in request.headers
    expired = StoredCredentials(
        canonical_resource("https://api.test/mcp"),
        "https://auth.test",
        access_token="old-token",
        refresh_token="refresh-me",
        token_endpoint="https://auth.test/token",
        expires_at=time.time() - 60,
    )
    store.save(expired)  # stored meanwhile, by another process; about to expire (expired, even)
    assert oauth.authorize_now(request) is True and request.headers["Authorization"] == "Bearer old-token"
    assert store.entries() == [expired]  # not refreshed: authorize_now never renews
    elsewhere = mcp_delete("https://other.test/mcp")
    assert oauth.authorize_now(elsewhere) is True and "Authorization" not in elsewhere.headers


def test_oauth_authorize_now_never_waits_for_a_login_under_way(pool: ConnectionPool) -> None:
    gate = threading.Event()
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool, authorizer=GatedAuthorizer(pool, gate))
        opener = threading.Thread(target=lambda: call(oauth, d, pool), name="test-request")
        opener.start()
        try:
            assert wait_until(lambda: len(d.auth.registrations) == 1)  # the login waits for the user now
            started = time.monotonic()
            assert oauth.authorize_now(mcp_delete(d.mcp_url)) is False
            assert time.monotonic() - started < 1.0
        finally:
            gate.set()
            opener.join(5)
        request = mcp_delete(d.mcp_url)
        assert oauth.authorize_now(request) is True
        assert request.headers["Authorization"] == f"Bearer {oauth.credentials().access_token}"  # type: ignore[union-attr]


def watch_followers(oauth: OAuth, monkeypatch: pytest.MonkeyPatch) -> Tuple[threading.Event, List[Any]]:
    """An event set when a request starts waiting for another request's renewal, and those renewals."""
    waiting = threading.Event()
    flights: List[Any] = []
    original = oauth._renewals.wait

    def await_flight(flight: Any, *args: Any) -> None:
        flights.append(flight)
        waiting.set()
        original(flight, *args)

    monkeypatch.setattr(oauth._renewals, "wait", await_flight)
    return waiting, flights


def outcome_of(target: Any) -> Any:
    try:
        return target()
    except Exception as exc:
        return exc


def test_close_cancels_a_login_waiting_for_the_user_and_a_later_login_works(
    pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced = threading.Event()
    visits: List[Any] = [lambda url: announced.set()]  # the first login: a user who never comes back
    with deployment(AuthOptions(), ResourceOptions()) as d:

        def announce(url: str) -> None:
            visits[0](url)

        with LoopbackAuthorizer(open_browser=False, timeout=30, announce=announce) as authorizer:
            oauth = make(d, pool, authorizer=authorizer, server_name="notes")
            following, _ = watch_followers(oauth, monkeypatch)
            results: List[Any] = [None, None]

            def request(index: int) -> None:
                results[index] = outcome_of(lambda: call(oauth, d, pool))

            leader = threading.Thread(target=request, args=(0,), name="test-leader")
            leader.start()
            assert announced.wait(5)
            follower = threading.Thread(target=request, args=(1,), name="test-follower")
            follower.start()
            assert following.wait(5)
            started = time.monotonic()
            oauth.close()
            leader.join(5)
            follower.join(5)
            assert not leader.is_alive() and not follower.is_alive()
            assert time.monotonic() - started < 2.0  # at once, not after the authorizer's 30 s
            for result in results:
                assert isinstance(result, OAuthError), result
                assert str(result) == "the login was cancelled (a connection to MCP server 'notes' closed)"
            oauth.close()  # idempotent
            visits[0] = lambda url: browser(pool, url)  # the next login: the user approves
            assert call(oauth, d, pool) == 200
            assert len(d.auth.authorization_requests) == 1  # the cancelled login never reached the server
        assert syncmcp_threads() == []


def test_close_before_the_wait_for_the_user_keeps_the_login_from_starting(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool)

        def send(request: HttpRequest) -> Any:
            if "/register" in request.url:
                oauth.close()  # the transport closes while the login is still discovering
            return pool.send(request)

        with pytest.raises(OAuthError, match="the login was cancelled"):
            drive_auth_flow(oauth, HttpRequest("POST", d.mcp_url, Headers(), BODY), send)
        assert d.auth.authorization_requests == [] and d.auth.token_requests == []
        assert call(oauth, d, pool) == 200  # the object stays usable


def test_loopback_cancel_wakes_a_waiting_authorize_and_only_that_one() -> None:
    announced = threading.Event()
    with LoopbackAuthorizer(open_browser=False, timeout=30, announce=lambda url: announced.set()) as authorizer:
        authorizer.cancel()  # no login under way: nothing to cancel, nothing remembered
        results: List[Any] = []
        waiting = threading.Thread(
            target=lambda: results.append(outcome_of(lambda: authorizer.authorize("https://as.test/a", "s"))), name="test-login"
        )
        waiting.start()
        assert announced.wait(5)
        started = time.monotonic()
        authorizer.cancel()
        waiting.join(5)
        assert time.monotonic() - started < 2.0
        assert isinstance(results[0], OAuthError) and str(results[0]) == "the login was cancelled"
        assert syncmcp_threads() == []  # the listener stopped
        authorizer.timeout = 0.05
        with pytest.raises(AuthenticationRequired, match="not completed within"):  # a later login waits again
            authorizer.authorize("https://as.test/a", "s")


def test_headless_cancel_aborts_its_request(pool: ConnectionPool) -> None:
    accepted = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(5)
        port = listener.getsockname()[1]

        def accept_and_say_nothing() -> None:
            connection, _ = listener.accept()
            accepted.set()
            with connection:
                connection.settimeout(5)
                while connection.recv(65536):  # until the client goes away
                    pass

        silent = threading.Thread(target=accept_and_say_nothing, name="test-silent-server", daemon=True)
        silent.start()
        authorizer = HeadlessAuthorizer(pool, timeout=30)
        authorizer.cancel()  # nothing under way: nothing to cancel
        results: List[Any] = []
        waiting = threading.Thread(
            target=lambda: results.append(outcome_of(lambda: authorizer.authorize(f"http://127.0.0.1:{port}/a", "s"))),
            name="test-login",
        )
        waiting.start()
        assert accepted.wait(5)
        started = time.monotonic()
        authorizer.cancel()
        waiting.join(5)
        silent.join(5)
        assert time.monotonic() - started < 2.0 and not silent.is_alive()
        assert isinstance(results[0], OAuthError) and str(results[0]) == "the login was cancelled"


# ----------------------------------------------------------------------------- step-up with a token stored elsewhere


def test_a_403_takes_up_a_token_with_the_scopes_stored_by_a_login_elsewhere(pool: ConnectionPool) -> None:
    resource = ResourceOptions(challenge_scope="mcp:read", required_scopes=("mcp:read", "mcp:write"))
    with deployment(AuthOptions(), resource) as d:
        store = CredentialStore()
        make(d, pool, store=store).login(pool.send, ["mcp:read"])
        running = make(d, pool, store=store, authorizer=None, server_name="notes")
        with pytest.raises(AuthenticationRequired) as caught:
            call(running, d, pool)
        hint = "MCP server 'notes' requires mcp:read mcp:write; run `syncmcp login notes --scopes mcp:read,mcp:write`"
        assert str(caught.value) == hint and caught.value.status == 403
        make(d, pool, store=store).login(pool.send, ["mcp:read", "mcp:write"])  # what the hint says, in a terminal
        assert call(running, d, pool) == 200
        assert d.resource.statuses[-2:] == [403, 200]
        assert len(d.auth.authorization_requests) == 2  # no step-up of its own
        assert running.credentials() == store.load(canonical_resource(d.mcp_url))


def test_a_403_steps_up_when_the_stored_token_lacks_the_scopes(pool: ConnectionPool) -> None:
    resource = ResourceOptions(challenge_scope="mcp:read", required_scopes=("mcp:read", "mcp:write"))
    with deployment(AuthOptions(), resource) as d:
        store = CredentialStore()
        oauth = make(d, pool, store=store)
        oauth.login(pool.send, ["mcp:read"])
        make(d, pool, store=store).login(pool.send, ["mcp:read"])  # newer, but no more scopes
        assert call(oauth, d, pool) == 200
        assert [q.get("scope") for q in d.auth.authorization_requests] == ["mcp:read", "mcp:read", "mcp:read mcp:write"]


# ----------------------------------------------------------------------------- HTTPS for the authorization server


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://as.example.com/token", True),
        ("http://localhost:9000/token", True),
        ("http://LOCALHOST/token", True),
        ("http://127.0.0.1:8080/token", True),
        ("http://127.9.8.7/token", True),
        ("http://[::1]:8080/token", True),
        ("http://as.example.com/token", False),
        ("http://127.0.0.1.example.com/token", False),
        ("http://localhost.example.com/token", False),
        ("http://10.0.0.1/token", False),
        ("http://[::2]/token", False),
        ("ftp://as.example.com/token", False),
    ],
)
def test_only_https_or_loopback_http_urls_may_receive_credentials(url: str, allowed: bool) -> None:
    if allowed:
        assert require_https(url, "the token endpoint") == url
    else:
        with pytest.raises(OAuthError, match="not an HTTPS URL"):
            require_https(url, "the token endpoint")


@pytest.mark.parametrize("name", ["token_endpoint", "authorization_endpoint", "registration_endpoint"])
def test_metadata_naming_a_clear_text_endpoint_is_refused(pool: ConnectionPool, name: str) -> None:
    auth = AuthOptions(metadata_overrides={name: "http://as.example.invalid/endpoint?k=secret"})
    with deployment(auth, ResourceOptions()) as d:
        with pytest.raises(OAuthError) as caught:
            call(make(d, pool), d, pool)
        message = str(caught.value)
        assert f"the {name} in the authorization server metadata" in message
        assert "http://as.example.invalid/endpoint?k=***, not an HTTPS URL" in message and "secret" not in message
        assert d.auth.registrations == [] and d.auth.authorization_requests == [] and d.auth.token_requests == []


def test_a_clear_text_authorization_server_in_the_resource_metadata_is_refused(pool: ConnectionPool) -> None:
    with deployment(AuthOptions(), ResourceOptions(authorization_servers=["http://as.example.invalid"])) as d:
        with pytest.raises(
            OAuthError, match=r"named by the protected resource metadata at .* is http://as.example.invalid, not an HTTPS URL"
        ):
            call(make(d, pool), d, pool)
        assert d.auth.requests == []


def test_a_stored_clear_text_token_endpoint_is_never_sent_a_refresh_token(
    pool: ConnectionPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syncmcp")
    with deployment(AuthOptions(), ResourceOptions()) as d:
        store = CredentialStore.memory()
        stale = StoredCredentials(
            canonical_resource(d.mcp_url),
            d.auth.issuer,
            client_id="c",
            token_endpoint="http://as.example.invalid/token",  # written before the rule
            access_token="expired",
            refresh_token="do-not-leak",
            expires_at=time.time() - 60,
        )
        store.save(stale)
        sent: List[str] = []

        def send(request: HttpRequest) -> Any:
            sent.append(request.url)
            return pool.send(request)

        oauth = make(d, pool, store=store, authorizer=None, server_name="notes")
        with pytest.raises(AuthenticationRequired, match="syncmcp login notes"):
            drive_auth_flow(oauth, HttpRequest("POST", d.mcp_url, Headers(), BODY), send)
        assert not any("as.example.invalid" in url for url in sent)
        assert "the token endpoint is http://as.example.invalid/token, not an HTTPS URL" in caplog.text


def test_a_clear_text_identity_provider_token_endpoint_is_refused_at_construction() -> None:
    options: Dict[str, Any] = {"client_id": "m", "idp_client_id": "c", "id_token": "t", "store": CredentialStore.memory()}
    with pytest.raises(ValueError, match=r"idp_token_endpoint is http://idp.example.com/token, not an HTTPS URL"):
        OAuth(
            server_url="https://a.test/mcp", grant_type="jwt_bearer", idp_token_endpoint="http://idp.example.com/token", **options
        )
    OAuth(server_url="https://a.test/mcp", grant_type="jwt_bearer", idp_token_endpoint="http://localhost:9/token", **options)


# ----------------------------------------------------------------------------- shared renewals


def test_a_request_waiting_for_a_cancelled_renewal_renews_itself(pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    with deployment(AuthOptions(), ResourceOptions()) as d:
        oauth = make(d, pool)
        assert call(oauth, d, pool) == 200
        d.tokens.revoke_all()
        following, flights = watch_followers(oauth, monkeypatch)
        leading = threading.Event()

        def cancelled_at_the_token_endpoint(request: HttpRequest) -> Any:
            if request.url.endswith("/token"):
                leading.set()
                assert following.wait(5)
                raise HTTPError("the request was cancelled")  # what the send of a cancelled exchange raises
            return pool.send(request)

        outcome: List[Any] = []
        request = HttpRequest("POST", d.mcp_url, Headers({"Content-Type": "application/json"}), BODY)
        leader = threading.Thread(
            target=lambda: outcome.append(outcome_of(lambda: drive_auth_flow(oauth, request, cancelled_at_the_token_endpoint))),
            name="test-leader",
        )
        leader.start()
        try:
            assert leading.wait(5)
            assert call(oauth, d, pool) == 200  # waits for the leader, then refreshes itself
        finally:
            following.set()
            leader.join(5)
        assert isinstance(outcome[0], HTTPError) and str(outcome[0]) == "the request was cancelled"
        (flight,) = flights
        assert (
            str(flight.error)
            == f"the request renewing the credentials for the MCP server at {d.mcp_url} was cancelled before it finished"
        )
        assert [t["form"]["grant_type"] for t in d.auth.token_requests] == ["authorization_code", "refresh_token"]


# ----------------------------------------------------------------------------- documentation


def test_the_exception_tree_shows_oauth_error() -> None:
    assert "│   │       └── OAuthError " in (syncmcp_exceptions.__doc__ or "")
