"""How the user approves an OAuth authorization request: in a browser, or scripted.

An :class:`Authorizer` knows the ``redirect_uri`` the authorization server sends the browser back
to, and :meth:`Authorizer.authorize` takes an authorization URL and returns the query parameters
of that redirect (``code``, ``state``, ``iss``, or ``error``):

- :class:`LoopbackAuthorizer` opens the user's browser (and always prints or, in Jupyter,
  displays the link) and receives the redirect on ``http://127.0.0.1:PORT/callback``
  (RFC 8252 loopback redirection);
- :class:`HeadlessAuthorizer` fetches the authorization URL itself and reads the redirect from
  its ``Location`` header: for tests, CI and conformance suites whose authorization servers
  approve at once.

Example::

    with LoopbackAuthorizer() as authorizer:
        oauth = OAuth(server_url="https://mcp.example.com/mcp", authorizer=authorizer)
        oauth.login(pool.send)
"""

from __future__ import annotations

import html
import http.server
import logging
import queue
import sys
import threading
import time
import urllib.parse
import webbrowser
from typing import Any, Callable, Dict, Optional, Set

from ._exceptions import AuthenticationRequired, HTTPError
from ._httpwire import Abortable, ConnectionPool, Headers, HttpRequest, redact_url

__all__ = [
    "DEFAULT_CALLBACK_PATH",
    "DEFAULT_HEADLESS_REDIRECT_URI",
    "DEFAULT_LOGIN_TIMEOUT",
    "Authorizer",
    "HeadlessAuthorizer",
    "LoopbackAuthorizer",
    "OAuthError",
    "announce_login_url",
    "callback_parameters",
]

logger = logging.getLogger("syncmcp.oauth")

#: Seconds the user has to approve a login in the browser.
DEFAULT_LOGIN_TIMEOUT = 300.0
#: Path of the loopback redirect URI.
DEFAULT_CALLBACK_PATH = "/callback"
#: Redirect URI of the headless authorizer (nothing listens there: the redirect is never followed).
DEFAULT_HEADLESS_REDIRECT_URI = "http://localhost:3000/callback"
#: Seconds the headless authorizer waits for the authorization server.
DEFAULT_HEADLESS_TIMEOUT = 30.0
#: How often the listener thread checks whether it should stop.
_POLL_INTERVAL = 0.05
#: Seconds a browser connection may take to send its request to the listener.
_HANDLER_TIMEOUT = 5.0
#: Seconds ``close()`` waits for the listener thread.
_JOIN_TIMEOUT = 5.0
#: Console browsers ``webbrowser`` may pick on a machine without a display: they would take over the terminal.
_CONSOLE_BROWSERS = frozenset({"www-browser", "links", "elinks", "lynx", "w3m"})
#: Callback parameters returned to the caller.
_CALLBACK_KEYS = ("code", "state", "iss", "error", "error_description", "error_uri")
#: Why an authorization ended after :meth:`Authorizer.cancel`.
_CANCELLED = "the login was cancelled"
#: Put in a listener's queue by :meth:`LoopbackAuthorizer.cancel`: wakes the waiting login.
_CANCEL_MARK: Dict[str, str] = {}


class OAuthError(AuthenticationRequired):
    """An OAuth step failed: the authorization server answered with an error, or it was unsafe.

    Unsafe: an issuer or resource mismatch, no PKCE, a wrong ``state``, and the like.

    Attributes:
        error: the OAuth error code the authorization server sent (``invalid_grant``,
            ``access_denied``...), or ``None`` when the refusal is this client's own.
        error_description: the server's description of the error, when it sent one.

    Example::

        try:
            oauth.login(pool.send)
        except syncmcp.OAuthError as exc:
            print(exc.error, exc)       # access_denied ... the user declined
    """

    def __init__(
        self,
        message: str,
        *,
        error: Optional[str] = None,
        error_description: Optional[str] = None,
        status: Optional[int] = None,
        url: Optional[str] = None,
        body: str = "",
    ) -> None:
        super().__init__(message, status=status, url=url, body=body)
        self.error = error
        self.error_description = error_description


class Authorizer:
    """Gets the user's approval of an authorization request; subclasses say how.

    Example::

        class PrintingAuthorizer(Authorizer):
            redirect_uri = "https://app.example.com/oauth/callback"

            def authorize(self, url, state):
                print("open", url)
                return dict(urllib.parse.parse_qsl(input("paste the callback URL's query: ")))
    """

    @property
    def redirect_uri(self) -> str:
        """Where the authorization server sends the browser back to."""
        raise NotImplementedError

    def authorize(self, url: str, state: str) -> Dict[str, str]:
        """Have ``url`` approved; return the redirect's query parameters (``code``, ``state``, ``iss``...).

        Raises:
            AuthenticationRequired: no answer in time, or the answer is unusable.
            OAuthError: :meth:`cancel` stopped the wait (for authorizers that support it).
        """
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop a waiting :meth:`authorize` at once, from any thread: it raises :class:`OAuthError`.

        Only the login in progress is affected; a later one works. The base cannot interrupt
        :meth:`authorize` and does nothing (the wait ends with the authorizer's own timeout).
        """

    def end_login(self) -> None:
        """Called when a login attempt ends, whatever its outcome; the base does nothing.

        :class:`LoopbackAuthorizer` stops listening here (it listens again, on the same port,
        when the next login reads :attr:`redirect_uri`).
        """

    def close(self) -> None:
        """Release what the authorizer holds (idempotent); the base holds nothing."""

    def __enter__(self) -> Authorizer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def callback_parameters(url: str) -> Dict[str, str]:
    """The OAuth parameters in the query of a redirect URL (first value of each).

    Example:
        >>> callback_parameters("http://localhost:3000/callback?code=abc&state=xyz&other=1")
        {'code': 'abc', 'state': 'xyz'}
    """
    found: Dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True):
        if name in _CALLBACK_KEYS and name not in found:
            found[name] = value
    return found


# ----------------------------------------------------------------------------- headless


class HeadlessAuthorizer(Authorizer):
    """Approves by fetching the authorization URL and reading the redirect it answers with.

    For authorization servers that approve without a user (test servers, conformance suites):
    one ``GET``, redirects not followed, the ``Location`` header's query returned.

    Args:
        pool: the connection pool to use (default: one of its own, closed by :meth:`close`).
        redirect_uri: the redirect URI to register and send (nothing needs to listen there).
        timeout: seconds to wait for the authorization server's answer.

    Example::

        with HeadlessAuthorizer() as authorizer:
            oauth = OAuth(server_url=url, authorizer=authorizer, store=CredentialStore.memory())
            drive_auth_flow(oauth, HttpRequest("POST", url, body=b"{}"), pool.send)
    """

    def __init__(
        self,
        pool: Optional[ConnectionPool] = None,
        *,
        redirect_uri: str = DEFAULT_HEADLESS_REDIRECT_URI,
        timeout: float = DEFAULT_HEADLESS_TIMEOUT,
    ) -> None:
        self._pool = pool
        self._own_pool = pool is None
        self._redirect_uri = redirect_uri
        self.timeout = timeout
        self._lock = threading.Lock()
        self._attempts: Set[Abortable] = set()

    @property
    def redirect_uri(self) -> str:
        """The redirect URI given to the constructor."""
        return self._redirect_uri

    def _get_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool()
            return self._pool

    def authorize(self, url: str, state: str) -> Dict[str, str]:
        """``GET`` ``url`` and return the query of the redirect it answers with.

        Raises:
            AuthenticationRequired: the server did not redirect (its status and an excerpt of
                its body are in the message).
            OAuthError: :meth:`cancel` aborted the request.
            HTTPError: the server could not be reached.
        """
        request = HttpRequest("GET", url, Headers({"Accept": "text/html"}), replayable=True)
        attempt = Abortable()
        with self._lock:
            self._attempts.add(attempt)
        try:
            with self._get_pool().send(request, read_timeout=self.timeout, on_pending=attempt.pending) as response:
                location = response.headers.get("location")
                if not 300 <= response.status < 400 or not location:
                    body = response.excerpt()
                    status = response.status
                    raise AuthenticationRequired(
                        f"the authorization endpoint {redact_url(url)} answered HTTP {status} instead of a redirect: {body}",
                        status=response.status,
                        url=url,
                        body=body,
                    )
        except HTTPError:
            if attempt.aborted:
                raise OAuthError(_CANCELLED, url=url) from None
            raise
        finally:
            with self._lock:
                self._attempts.discard(attempt)
        return callback_parameters(urllib.parse.urljoin(url, location))

    def cancel(self) -> None:
        """Abort the ``GET`` of every :meth:`authorize` under way (each raises :class:`OAuthError`)."""
        with self._lock:
            attempts = list(self._attempts)
        for attempt in attempts:
            attempt.abort()

    def close(self) -> None:
        """Close the connection pool, when it is this authorizer's own (idempotent)."""
        if not self._own_pool:
            return
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __repr__(self) -> str:
        return f"<HeadlessAuthorizer redirect_uri={self._redirect_uri!r}>"


# ----------------------------------------------------------------------------- loopback


def _in_ipython_kernel() -> bool:
    """Whether this process is a Jupyter (IPython) kernel; never imports IPython itself."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # a half-initialised IPython must not break a login
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def announce_login_url(url: str) -> None:
    """Tell the user where to log in: a link in Jupyter, a line on stderr elsewhere.

    Example::

        announce_login_url("https://auth.example.com/authorize?client_id=...")
        # stderr: Open this URL to log in: https://auth.example.com/authorize?client_id=...
    """
    if _in_ipython_kernel():
        try:
            from IPython.display import HTML, display  # type: ignore[import-not-found, unused-ignore]

            link = html.escape(url, quote=True)
            page = HTML(f'<a href="{link}" target="_blank" rel="noopener">Open this link to log in</a>')  # type: ignore[no-untyped-call, unused-ignore]
            display(page)  # type: ignore[no-untyped-call, unused-ignore]
            return
        except ImportError:
            pass
    print(f"Open this URL to log in: {url}", file=sys.stderr, flush=True)


def _open_browser(url: str) -> bool:
    """Open ``url`` in a graphical browser, if there is one; whether one was started."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if getattr(browser, "name", None) in _CONSOLE_BROWSERS:
        return False
    try:
        return bool(browser.open(url))
    except Exception as exc:  # a browser launcher failing is not a login failure: the URL was announced
        logger.debug("could not open a browser: %s", exc)
        return False


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>{title}</h1><p>{text}</p></body></html>
"""


class _CallbackServer(http.server.HTTPServer):
    """The loopback listener; handler results go to ``results``."""

    def __init__(self, address: tuple[str, int], callback_path: str) -> None:
        self.callback_path = callback_path
        self.results: queue.Queue[Dict[str, str]] = queue.Queue()
        self.cancelled = False  # the login this listener serves was cancelled
        super().__init__(address, _CallbackHandler)
        self.timeout = _POLL_INTERVAL

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken browser connection is not worth a traceback on stderr."""
        logger.debug("the login callback listener dropped a connection from %s", client_address, exc_info=True)


class _CallbackHandler(http.server.BaseHTTPRequestHandler):
    """Answers the browser's redirect with a short page and hands its parameters over."""

    server: _CallbackServer
    timeout = _HANDLER_TIMEOUT

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        if parts.path != self.server.callback_path:
            self._answer(404, "Not found", "This is the syncmcp login callback.")
            return
        params = callback_parameters(self.path)
        if "error" in params:
            reason = params.get("error_description") or params["error"]
            self._answer(200, "Login failed", f"The authorization server said: {reason}. You can close this window.")
        else:
            self._answer(200, "Login complete", "You can close this window and return to your program.")
        self.server.results.put(params)

    def _answer(self, status: int, title: str, text: str) -> None:
        page = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence ``http.server``'s stderr log: the query holds the authorization code."""


class LoopbackAuthorizer(Authorizer):
    """Logs in with the user's browser, receiving the redirect on a local port (RFC 8252).

    The listener (127.0.0.1, a free port unless ``port`` is given) starts when
    :attr:`redirect_uri` is first read, in a daemon thread named ``syncmcp-oauth-callback``, and
    stops when :meth:`authorize` returns; the next login listens on the same port again when it
    is free. :meth:`cancel` ends the wait of the login in progress at once. The URL is always
    announced (stderr, or a link in Jupyter), and also opened in the browser when
    ``open_browser`` is true and a graphical browser is available.

    Args:
        port: the port to listen on (``0``: any free port).
        open_browser: open the authorization URL in the default browser.
        timeout: seconds the user has to complete the login.
        callback_path: the path of the redirect URI.
        announce: called with the authorization URL instead of the default announcement.

    Example::

        with syncmcp.LoopbackAuthorizer(timeout=120) as authorizer:
            manager.login("github", authorizer=authorizer)
    """

    def __init__(
        self,
        port: int = 0,
        open_browser: bool = True,
        timeout: float = DEFAULT_LOGIN_TIMEOUT,
        callback_path: str = DEFAULT_CALLBACK_PATH,
        announce: Optional[Callable[[str], None]] = None,
    ) -> None:
        if not callback_path.startswith("/"):
            raise ValueError("callback_path must start with '/'")
        self._port = port
        self.open_browser = open_browser
        self.timeout = timeout
        self.callback_path = callback_path
        self._announce = announce or announce_login_url
        self._lock = threading.Lock()
        self._server: Optional[_CallbackServer] = None
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._closed = False

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:PORT/callback``; starts the listener if it is not running.

        Raises:
            OSError: the port cannot be bound.
        """
        server = self._start()
        return f"http://127.0.0.1:{server.server_address[1]}{self.callback_path}"

    def _start(self) -> _CallbackServer:
        with self._lock:
            if self._closed:
                raise RuntimeError("this LoopbackAuthorizer is closed")
            if self._server is not None:
                return self._server
            server = self._bind()
            self._port = server.server_address[1]
            stop = self._stop = threading.Event()
            thread = threading.Thread(target=_serve, args=(server, stop), name="syncmcp-oauth-callback", daemon=True)
            self._server, self._thread = server, thread
        thread.start()
        return server

    def _bind(self) -> _CallbackServer:
        try:
            return _CallbackServer(("127.0.0.1", self._port), self.callback_path)
        except OSError:
            if self._port == 0:
                raise
            logger.debug("port %d is taken; listening on another one", self._port)
            return _CallbackServer(("127.0.0.1", 0), self.callback_path)

    def authorize(self, url: str, state: str) -> Dict[str, str]:
        """Show ``url`` to the user and wait for the browser to come back with ``state``.

        Raises:
            OAuthError: the callback carries another ``state`` (a forged or stale redirect), or
                :meth:`cancel` ended the wait.
            AuthenticationRequired: no callback within ``timeout`` seconds.
        """
        server = self._start()
        deadline = time.monotonic() + self.timeout
        try:
            _drain(server.results)
            if server.cancelled:
                raise OAuthError(_CANCELLED, url=url)
            self._announce(url)
            if self.open_browser:
                _open_browser(url)
            params = self._wait(server, deadline, url)
        finally:
            self._stop_listener()
        if params is _CANCEL_MARK:
            raise OAuthError(_CANCELLED, url=url)
        if params.get("state") != state:
            raise OAuthError("the login callback carried an unexpected state parameter; the login was refused", url=url)
        return params

    def _wait(self, server: _CallbackServer, deadline: float, url: str) -> Dict[str, str]:
        remaining = deadline - time.monotonic()
        try:
            return server.results.get(timeout=max(0.0, remaining))
        except queue.Empty:
            raise AuthenticationRequired(
                f"the login was not completed within {self.timeout:g} s (no redirect to {self.callback_path})", url=url
            ) from None

    def _stop_listener(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._stop.set()
        if thread is not None:
            thread.join(_JOIN_TIMEOUT)
        if server is not None:
            server.server_close()

    def cancel(self) -> None:
        """End the wait of the login in progress at once: its :meth:`authorize` raises :class:`OAuthError`.

        Without a login in progress (no listener running), nothing happens: the next login works.
        """
        with self._lock:
            server = self._server
            if server is not None:
                server.cancelled = True
        if server is not None:
            server.results.put(_CANCEL_MARK)

    def end_login(self) -> None:
        """Stop listening until the next login (the port is reused when it is still free)."""
        self._stop_listener()

    def close(self) -> None:
        """Stop the listener and join its thread (idempotent)."""
        with self._lock:
            self._closed = True
        self._stop_listener()

    def __repr__(self) -> str:
        return f"<LoopbackAuthorizer port={self._port} callback_path={self.callback_path!r}>"


def _serve(server: _CallbackServer, stop: threading.Event) -> None:
    """The listener thread: one request at a time, until ``stop`` is set."""
    while not stop.is_set():
        try:
            server.handle_request()
        except (OSError, ValueError):  # the socket was closed under us
            if stop.is_set():
                return
            raise


def _drain(results: queue.Queue[Dict[str, str]]) -> None:
    while True:
        try:
            results.get_nowait()
        except queue.Empty:
            return
