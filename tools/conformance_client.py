#!/usr/bin/env python3
"""The client the official MCP conformance suite (``@modelcontextprotocol/conformance``) tests.

    MCP_CONFORMANCE_SCENARIO=<scenario> [MCP_CONFORMANCE_CONTEXT=<json>] .venv/bin/python tools/conformance_client.py <server-url>

The suite's runner starts a scenario's server, then this program with the server's URL appended
as the last argument, the scenario's name in ``MCP_CONFORMANCE_SCENARIO`` and, for some scenarios,
data such as pre-registered OAuth credentials (or, for cross-app access, the identity provider's
token endpoint, client id and an ID token) in ``MCP_CONFORMANCE_CONTEXT`` (JSON). It uses only
syncmcp's public API, does what the scenario expects of a client, and exits 0 on success, 1 with
the error on stderr otherwise, well within the runner's 30 s timeout. syncmcp's log goes to
stderr (the runner keeps it in the scenario's ``stderr.txt``); the HTTP and OAuth layers log at
DEBUG (methods, URLs and statuses; never a header, token or secret).

See ``tools/conformance/README.md`` for running the suite by hand.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's syncmcp

import syncmcp

#: The Client ID Metadata Document URL the suite's authorization servers accept as a client_id.
CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"
#: Seconds for the handshake (including an OAuth login) and for each later request: the runner
#: kills the client after 30 s.
CONNECT_TIMEOUT = 20.0
REQUEST_TIMEOUT = 15.0

log = logging.getLogger("conformance-client")


def context() -> Dict[str, Any]:
    raw = os.environ.get("MCP_CONFORMANCE_CONTEXT")
    if not raw:
        raise SystemExit("MCP_CONFORMANCE_CONTEXT is not set, and this scenario needs it")
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise SystemExit("MCP_CONFORMANCE_CONTEXT is not a JSON object")
    return value


def connect(url: str, **options: Any) -> syncmcp.ClientSession:
    options.setdefault("timeout", CONNECT_TIMEOUT)
    options.setdefault("request_timeout", REQUEST_TIMEOUT)
    session = syncmcp.connect_http(url, **options)
    log.info("connected: %s, protocol %s, era %s", session.server_info.name, session.protocol_version, session.era)
    return session


# ----------------------------------------------------------------------------- plain scenarios


def initialize(url: str) -> None:
    with connect(url) as session:
        tools = session.list_tools()
        log.info("%d tools", len(tools))


def tools_call(url: str) -> None:
    with connect(url) as session:
        result = session.call_tool("add_numbers", {"a": 5, "b": 3})
        if result.is_error or "8" not in result.text:
            raise RuntimeError(f"add_numbers answered {result.text!r}")
        log.info("add_numbers: %s", result.text)


def elicitation_defaults(url: str) -> None:
    def accept_empty(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        log.info("elicitation: %s", params.get("message"))
        return {"action": "accept", "content": {}}  # syncmcp fills in the schema's defaults

    with connect(url, elicitation_handler=accept_empty) as session:
        names = [tool.name for tool in session.list_tools()]
        if "test_client_elicitation_defaults" not in names:
            raise RuntimeError(f"the test tool is missing: {names}")
        result = session.call_tool("test_client_elicitation_defaults", {})
        log.info("result: %s", result.text)
        if result.is_error:
            raise RuntimeError(f"the tool failed: {result.text}")


def sse_retry(url: str) -> None:
    with connect(url) as session:
        session.list_tools()
        started = time.monotonic()
        result = session.call_tool("test_reconnection", {})
        log.info("test_reconnection after %.2f s: %s", time.monotonic() - started, result.text)
        if result.is_error or "successfully" not in result.text:
            raise RuntimeError(f"test_reconnection answered {result.text!r}")


# ----------------------------------------------------------------------------- OAuth scenarios


def oauth_session(url: str, **oauth_options: Any) -> None:
    """Log in as the scenario wants, then list the tools and call ``test-tool`` when there is one."""
    authorizer = syncmcp.HeadlessAuthorizer()
    try:
        auth = syncmcp.OAuth(
            server_url=url,
            server_name="conformance",
            authorizer=authorizer,
            store=syncmcp.CredentialStore.memory(),
            **oauth_options,
        )
        with connect(url, auth=auth) as session:
            names = [tool.name for tool in session.list_tools()]
            log.info("tools: %s", names)
            if "test-tool" in names:
                result = session.call_tool("test-tool", {})
                log.info("test-tool: %s", result.text)
    finally:
        authorizer.close()


def auth_flow(url: str) -> None:
    oauth_session(url, client_metadata_url=CLIENT_METADATA_URL)


def pre_registration(url: str) -> None:
    data = context()
    oauth_session(url, client_id=data["client_id"], client_secret=data["client_secret"])


def client_credentials_basic(url: str) -> None:
    data = context()
    oauth_session(url, grant_type="client_credentials", client_id=data["client_id"], client_secret=data["client_secret"])


def client_credentials_jwt(url: str) -> None:
    data = context()
    oauth_session(
        url,
        grant_type="client_credentials",
        client_id=data["client_id"],
        private_key_pem=data["private_key_pem"],
        signing_algorithm=data.get("signing_algorithm") or "ES256",
    )


def cross_app_access(url: str) -> None:
    """SEP-990: the IdP's ID token for an ID-JAG there, redeemed at the MCP authorization server."""
    data = context()
    oauth_session(
        url,
        grant_type="jwt_bearer",
        client_id=data["client_id"],
        client_secret=data["client_secret"],
        idp_token_endpoint=data["idp_token_endpoint"],
        idp_client_id=data["idp_client_id"],
        id_token=data["idp_id_token"],
    )


#: Scenario -> what the client does. Every other ``auth/...`` scenario is a plain OAuth login.
SCENARIOS: Dict[str, Callable[[str], None]] = {
    "initialize": initialize,
    "tools_call": tools_call,
    "elicitation-sep1034-client-defaults": elicitation_defaults,
    "sse-retry": sse_retry,
    "auth/pre-registration": pre_registration,
    "auth/client-credentials-basic": client_credentials_basic,
    "auth/client-credentials-jwt": client_credentials_jwt,
    "auth/cross-app-access-complete-flow": cross_app_access,
}


def handler_for(scenario: str) -> Optional[Callable[[str], None]]:
    if scenario in SCENARIOS:
        return SCENARIOS[scenario]
    if scenario.startswith("auth/"):
        return auth_flow
    return None


def main(argv: List[str]) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s"
    )
    for name in ("syncmcp.http", "syncmcp.oauth", "conformance-client"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    if len(argv) < 2 or not scenario:
        print(__doc__, file=sys.stderr)
        return 2
    url = argv[-1]
    handler = handler_for(scenario)
    if handler is None:
        print(f"unknown scenario {scenario!r}; known: {', '.join(sorted(SCENARIOS))} and auth/*", file=sys.stderr)
        return 2
    log.info("scenario %s against %s", scenario, url)
    try:
        handler(url)
    except Exception as exc:
        log.debug("scenario %s failed", scenario, exc_info=True)
        print(f"scenario {scenario} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    log.info("scenario %s done", scenario)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
