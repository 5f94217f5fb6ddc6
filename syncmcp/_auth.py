"""Authentication of HTTP requests: the auth-flow interface, and static bearer tokens.

An :class:`Auth` is a generator-based flow in the style of httpx's: the HTTP transport hands it
each request, the flow yields the request to send (credentials added), receives the response,
and may yield further requests (to an authorization server, or the original one again with a
new token) before it ends. The transport returns the last response to its caller. A flow runs
on the transport's worker threads, so implementations lock their own state.

Two more hooks serve the transport: :meth:`Auth.authorize_now` adds the credentials at hand to a
request that must not wait (the courtesy ``DELETE`` of a session at close), and
:meth:`Auth.close` stops any step that waits for the user when a transport using the auth closes.

Example:
    >>> flow = BearerAuth("s3cret").auth_flow(HttpRequest("POST", "https://api.test/mcp"))
    >>> next(flow).headers["Authorization"] == "Bearer s3cret"
    True
"""

from __future__ import annotations

from typing import Any, Generator, Optional

from ._httpwire import HttpRequest, HttpResponse, redact_url

__all__ = ["Auth", "AuthFlow", "BearerAuth", "drive_auth_flow"]

#: What :meth:`Auth.auth_flow` returns: yields requests, is sent their responses.
AuthFlow = Generator[HttpRequest, HttpResponse, None]


class Auth:
    """Adds credentials to requests and answers the server's challenges; the base adds nothing.

    Subclasses override :meth:`auth_flow`. Every request the flow yields is sent, and its
    response sent back into the flow; the response to the last one is the caller's.

    Example::

        class ApiKeyAuth(syncmcp.Auth):
            def __init__(self, key):
                self.key = key

            def auth_flow(self, request):
                request.headers["X-Api-Key"] = self.key
                yield request
    """

    def auth_flow(self, request: HttpRequest) -> AuthFlow:
        """Yield ``request`` (and any other request the flow needs); receive each response."""
        yield request

    def authorize_now(self, request: HttpRequest) -> bool:
        """Add the credentials available right now to ``request``; whether it may be sent.

        Never sends a request, refreshes, logs in, or waits for another thread's renewal: for
        requests that must not wait (the ``DELETE`` ending a session while the transport
        closes). The base adds nothing and returns ``True``.
        """
        return True

    def close(self) -> None:
        """Called when a transport using this auth closes: stop any step that waits for the user.

        The auth stays usable by other transports. The base waits for nothing and does nothing.
        """

    def status(self) -> str:
        """How this auth presents itself in listings (``"none"``, ``"bearer_token"``, ``"oauth"``...)."""
        return "none"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class BearerAuth(Auth):
    """A fixed bearer token, sent as ``Authorization: Bearer <token>`` on every request.

    The token never appears in a ``repr`` or an error message.

    Example:
        >>> BearerAuth("t0k3n")
        <BearerAuth ****>
    """

    def __init__(self, token: str) -> None:
        if not token or any(c in token for c in "\r\n"):
            raise ValueError("a bearer token must be a non-empty string without line breaks")
        self._token = token

    def auth_flow(self, request: HttpRequest) -> AuthFlow:
        """Add the ``Authorization`` header."""
        self.authorize_now(request)
        yield request

    def authorize_now(self, request: HttpRequest) -> bool:
        """Add the ``Authorization`` header; always ``True``."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        return True

    def status(self) -> str:
        """``"bearer_token"``."""
        return "bearer_token"

    def __repr__(self) -> str:
        return "<BearerAuth ****>"


def drive_auth_flow(auth: Optional[Auth], request: HttpRequest, send: Any) -> HttpResponse:
    """Run ``auth``'s flow for ``request``, sending with ``send(request) -> HttpResponse``.

    Every response but the last is closed. Without ``auth`` the request is sent as it is. When
    ``send`` raises (the request was cancelled, or failed), the flow is closed and the error
    propagates; an :class:`~syncmcp.OAuth` renewal this request was leading is then taken over by
    the requests waiting for it.

    ``send`` should bound its reads for the requests the flow adds (authorization server
    metadata, registration, token requests): a token refresh is sent while the credential file
    is locked. The HTTP transport sends them with a 30 s read timeout.

    Example::

        response = drive_auth_flow(oauth, HttpRequest("POST", url, body=b"{}"), pool.send)
    """
    if auth is None:
        response: HttpResponse = send(request)
        return response
    flow = auth.auth_flow(request)
    try:
        outgoing = next(flow)
    except StopIteration:
        raise RuntimeError(f"{auth!r} yielded no request for {redact_url(request.url)}") from None
    try:
        while True:
            response = send(outgoing)
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return response
            except BaseException:
                response.close()
                raise
            response.close()
    finally:
        flow.close()
