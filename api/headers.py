"""Headers every response carries, whatever route or error produced it.

- `X-Content-Type-Options: nosniff`: a browser never guesses a type other than the one sent
  (a bundle or a problem rendered as HTML);
- `Cache-Control: no-store` on the answer to any request that carried credentials: an issuer's
  view of its certificates must not stay in a shared cache or a browser's history;
- `Strict-Transport-Security` when the request came over TLS (directly, or through one of
  `CERTREG_TRUSTED_PROXIES`, which `certreg serve` hands to uvicorn's `forwarded_allow_ips`), so
  that browsers keep to https.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HSTS", "SecurityHeadersMiddleware"]

#: one year; no `preload`: that is the operator's decision for the whole domain
HSTS = "max-age=31536000"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credentials = any(
            name in (b"authorization", b"cookie") for name, _ in scope.get("headers", [])
        )
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if credentials:
                    headers["Cache-Control"] = "no-store"
                if secure:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
