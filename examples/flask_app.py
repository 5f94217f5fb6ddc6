"""MCP beside an existing Flask application: the same functions as web routes and as MCP tools.

The MCP endpoint is ``/mcp``; every other path (``/hello``, ``/quote/<symbol>``) is Flask's. The
combined WSGI application is ``app`` (the Flask object, whose ``wsgi_app`` now answers ``/mcp``
first and hands the rest to Flask). Run it with any threaded WSGI server::

    pip install flask gunicorn
    export SYNCMCP_SERVER_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')
    gunicorn -w 4 -k gthread --threads 8 -b 127.0.0.1:8000 'examples.flask_app:app'

    pip install waitress                                   # or, in one process:
    waitress-serve --listen=127.0.0.1:8000 --threads=16 examples.flask_app:app

    python examples/flask_app.py                            # Flask's development server, port 8000

(run from the repository's root; elsewhere, put this folder on ``PYTHONPATH`` and name the
module ``flask_app:app``). Then ``curl http://127.0.0.1:8000/hello`` and, from Python::

    with syncmcp.connect("http://127.0.0.1:8000/mcp") as session:
        print(session.call_tool("quote", {"symbol": "ACME"}).text)

The endpoint is ``stateless=True``, so any of the four workers answers any request, in both
protocol eras. ``SYNCMCP_SERVER_SECRET`` (the same in every worker) signs pagination cursors and
2026-07-28 ``requestState``, so what one worker made another accepts; with one process it may be
left out. ``-k gthread`` matters: a streaming answer holds its thread while it is open, and
every connected 2026-07-28 client keeps one stream open (``subscriptions/listen``), so give the
workers more threads in all than the clients you expect at once.
"""

from __future__ import annotations

from typing import Dict

from flask import Flask, jsonify

from syncmcp.server import Server

PRICES: Dict[str, float] = {"ACME": 12.5, "GLOBEX": 41.0, "INITECH": 7.25}


def greeting(name: str) -> str:
    """The application's own logic, shared by the web routes and the MCP tools."""
    return f"Hello, {name}!"


def price_of(symbol: str) -> float:
    try:
        return PRICES[symbol.upper()]
    except KeyError:
        raise LookupError(f"unknown symbol {symbol!r}; known: {', '.join(sorted(PRICES))}") from None


# ----------------------------------------------------------------------------- the Flask application

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return greeting("web")


@app.get("/quote/<symbol>")
def quote_route(symbol: str):  # type: ignore[no-untyped-def]
    try:
        return jsonify(symbol=symbol.upper(), price=price_of(symbol))
    except LookupError as exc:
        return jsonify(error=str(exc)), 404


# ----------------------------------------------------------------------------- the same functions over MCP

mcp = Server("flask-shop", version="1.0", instructions="Greets people and quotes share prices.")


@mcp.tool()
def greet(name: str) -> str:
    """Greet someone by name.

    Args:
        name: who to greet.
    """
    return greeting(name)


@mcp.tool()
def quote(symbol: str) -> str:
    """The current price of a share (an unknown symbol is a tool error naming the known ones).

    Args:
        symbol: the ticker, e.g. ACME.
    """
    return f"{symbol.upper()}: {price_of(symbol):.2f}"


# /mcp is answered by syncmcp; every other path goes on to Flask.
app.wsgi_app = mcp.wsgi_app(stateless=True, fallback=app.wsgi_app)  # type: ignore[method-assign]


if __name__ == "__main__":
    app.run("127.0.0.1", 8000, threaded=True)
