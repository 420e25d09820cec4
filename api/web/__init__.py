"""The web edge for people: the bilingual verification page a certificate's QR code opens
(`/verify/{id}`), the search (`/verify`) and upload (`/verify/bundle`) pages, QR codes and the
printable certificate (`/v1/certificates/{id}/qr.svg|qr.png|pdf`), and the portal of the CBs'
and the authority's people (`/portal…`, `api.web.portal`).

`install(app)` adds the routes, and turns the API's problem responses on the pages (a route
that does not exist, an upload over the size limit, a malformed form) into HTML error pages;
on the portal, a request that is not signed in is sent to the sign-in page instead.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request

from api.web import portal
from api.web.routes import api_router, error_page, page_router

__all__ = ["HtmlErrorPages", "install"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PAGE_PREFIXES = ("/verify", portal.PORTAL)


def install(app: FastAPI) -> None:
    """Add the pages, the QR and PDF routes, and HTML error pages for the pages."""
    app.include_router(page_router)
    app.include_router(api_router)
    app.include_router(portal.router)
    app.add_middleware(HtmlErrorPages)


def _is_page(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PAGE_PREFIXES)


def _is_portal(path: str) -> bool:
    return path == portal.PORTAL or path.startswith(portal.PORTAL + "/")


class HtmlErrorPages:
    """On the human pages, a problem+json response (from the API's error handling or its
    middleware) is replaced by an HTML page with the same status, in the reader's language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_page(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        replaced: list[int] = []

        async def replacing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                media = headers.get(b"content-type", b"").split(b";")[0].strip()
                if media == b"application/problem+json":
                    replaced.append(int(message["status"]))
                    return
            elif message["type"] == "http.response.body" and replaced:
                if message.get("more_body", False):
                    return
                request = Request(scope)
                page = (
                    portal.sign_in_redirect(request)
                    # a page asked for goes to the sign-in page; a form sent gets a page that
                    # says to sign in again (a 401: never mistaken for the form's own 303)
                    if replaced[0] == 401
                    and request.method in ("GET", "HEAD")
                    and _is_portal(request.url.path)
                    else error_page(request, replaced[0])
                )
                await page(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive, replacing_send)
