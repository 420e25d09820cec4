"""Rendering a portal page: the verification pages' `render_page` (language, switch, security
headers) with the portal's navigation and the signed-in person."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.responses import HTMLResponse
from starlette.datastructures import URL
from starlette.requests import Request

from api.deps import CSRF_FIELD
from api.web.i18n import translator
from api.web.pages import page_language, render_page
from api.web.portal.auth import Person
from registry.accounts import Role

__all__ = ["NavItem", "language", "portal_page"]


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    current: bool


def language(request: Request) -> str:
    return page_language(request)


def _nav(person: Person | None, lang: str, section: str) -> list[NavItem]:
    if person is None:
        return []
    t = translator(lang)
    items = [("certificates", "/portal")]
    if person.role in (Role.CB_ADMIN, Role.AUTHORITY_ADMIN, Role.AUDITOR):
        items += [("accounts", "/portal/accounts"), ("tokens", "/portal/tokens")]
    else:
        items += [("tokens", "/portal/tokens")]
    items.append(("drafts", "/portal/drafts"))
    if person.role is Role.CB_OFFICER:
        items.append(("imports", "/portal/imports"))
    if person.of_cb:
        items.append(("settings", "/portal/settings"))
    if person.role is Role.CB_ADMIN:
        items.append(("keys", "/portal/keys"))
    if person.sees_all:
        items.append(("issuers", "/portal/issuers"))
    items.append(("account", "/portal/account"))
    return [
        NavItem(f"{href}?lang={lang}", t(f"portal.nav.{name}"), name == section)
        for name, href in items
    ]


def portal_page(
    request: Request,
    template: str,
    *,
    person: Person | None,
    title: str,
    section: str = "",
    status_code: int = 200,
    switch_to: URL | None = None,
    context: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    """A portal page in the request's language, with the navigation `person` may use."""
    lang = language(request)
    return render_page(
        request,
        template,
        lang=lang,
        title=title,
        status_code=status_code,
        switch_to=switch_to,
        context={
            "person": person,
            "nav": _nav(person, lang, section),
            "csrf_field": CSRF_FIELD,
            "csrf": "" if person is None else person.csrf,
            **(context or {}),
        },
    )
