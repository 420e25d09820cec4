"""Rendering the human pages: the Jinja2 environment, the language of a request, the links of
the language switch, and the security headers every page carries."""

import hashlib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.datastructures import URL
from starlette.requests import Request

from api.web.i18n import LANGUAGES, Translator, choose_language, translator

__all__ = [
    "CSS_PATH",
    "HTML_HEADERS",
    "css_bytes",
    "environment",
    "page_language",
    "render_page",
]

#: No script, no third-party anything: a verification page should be hard to dress up.
HTML_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@cache
def css_bytes() -> bytes:
    return resources.files("api.web").joinpath("static/verify.css").read_bytes()


@cache
def css_version() -> str:
    return hashlib.sha256(css_bytes()).hexdigest()[:12]


CSS_PATH: Final = "/verify/static/verify.css"


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("api.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_language(request: Request) -> str:
    return choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def _switch_links(request: Request, lang: str, switch_to: URL | None) -> list[dict[str, Any]]:
    base = switch_to or request.url
    links = []
    for code in LANGUAGES:
        url = base.include_query_params(lang=code)
        links.append(
            {
                "lang": code,
                "href": url.path + ("?" + url.query if url.query else ""),
                "label": translator(code)(f"lang.{code}"),
                "current": code == lang,
            }
        )
    return links


def render_page(
    request: Request,
    template: str,
    *,
    lang: str,
    title: str,
    status_code: int = 200,
    switch_to: URL | None = None,
    context: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    """A page in `lang`, with the language switch pointing at this URL (or `switch_to`)."""
    t: Translator = translator(lang)
    html = (
        environment()
        .get_template(template)
        .render(
            lang=lang,
            t=t,
            title=title,
            languages=_switch_links(request, lang, switch_to),
            css_url=f"{CSS_PATH}?v={css_version()}",
            lang_query=f"lang={lang}",
            **(context or {}),
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=dict(HTML_HEADERS))
