"""MCP beside an existing Django project (a single-file one here): the same functions as views and as MCP tools.

The MCP endpoint is ``/mcp``; every other path (``/hello``, ``/quote/<symbol>``) is Django's. In a
real project the two lines at the end of this file go into its ``wsgi.py``::

    application = mcp.wsgi_app(stateless=True, fallback=get_wsgi_application())

Run it with any threaded WSGI server::

    pip install django gunicorn
    export SYNCMCP_SERVER_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')
    gunicorn -w 4 -k gthread --threads 8 -b 127.0.0.1:8000 'examples.django_app:application'

    pip install waitress                                   # or, in one process:
    waitress-serve --listen=127.0.0.1:8000 --threads=16 examples.django_app:application

    python examples/django_app.py runserver 8000            # Django's development server

(run from the repository's root; elsewhere, put this folder on ``PYTHONPATH`` and name the
module ``django_app:application``). Then ``curl http://127.0.0.1:8000/hello`` and, from Python::

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

import os
import sys
from typing import Dict

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret"),
        ALLOWED_HOSTS=os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(","),
        ROOT_URLCONF=__name__,
        WSGI_APPLICATION=f"{__name__}.application",  # what `runserver` serves: MCP included
        INSTALLED_APPS=[],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        USE_TZ=True,
    )

# Imported once the settings are configured.
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from syncmcp.server import Server

PRICES: Dict[str, float] = {"ACME": 12.5, "GLOBEX": 41.0, "INITECH": 7.25}


def greeting(name: str) -> str:
    """The project's own logic, shared by the views and the MCP tools."""
    return f"Hello, {name}!"


def price_of(symbol: str) -> float:
    try:
        return PRICES[symbol.upper()]
    except KeyError:
        raise LookupError(f"unknown symbol {symbol!r}; known: {', '.join(sorted(PRICES))}") from None


# ----------------------------------------------------------------------------- the Django views


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(greeting("web"), content_type="text/plain; charset=utf-8")


def quote_view(request: HttpRequest, symbol: str) -> JsonResponse:
    try:
        return JsonResponse({"symbol": symbol.upper(), "price": price_of(symbol)})
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=404)


urlpatterns = [
    path("hello", hello),
    path("quote/<str:symbol>", quote_view),
]


# ----------------------------------------------------------------------------- the same functions over MCP

mcp = Server("django-shop", version="1.0", instructions="Greets people and quotes share prices.")


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


# /mcp is answered by syncmcp; every other path goes on to Django.
application = mcp.wsgi_app(stateless=True, fallback=get_wsgi_application())


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
