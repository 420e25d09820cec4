"""Browser fixtures: Debian's Chromium driven by Playwright, against a real `certreg serve`
process (with its anchoring worker) and the e2e session's Hardhat node.

The registry is this package's own (`start_registry` of the e2e harness), with a block explorer
configured, so that its database can be tampered with without touching the shared one.
Playwright never downloads a browser here: it launches `/usr/bin/chromium` (`make install`
installs Debian's package). Screenshots go to `screenshots/` at the repository root (ignored by
git; CI keeps it as an artifact folder).
"""

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from web3 import Web3
from web3.types import RPCEndpoint

from anchoring.devnode import HardhatNode, dev_account
from api.deps import CSRF_HEADER
from registry.fields import CertificateKind
from tests.e2e.harness import ISSUER_ID, Accounts, RunningRegistry, certreg, start_registry

CHROMIUM = Path(os.environ.get("CERTREG_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPLORER = "https://explorer.example.vn/tx/"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "screenshots"
#: a phone: 360 × 780 CSS pixels at 2× (the test of the narrowest layout uses 320 px)
PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 780},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"browser tests: got no {CHROMIUM}, want Debian's chromium "
            "(`make install` installs it: apt-get install chromium)"
        )
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield launched
    finally:
        launched.close()


def fund_registry_accounts(node: HardhatNode) -> None:
    """Top up the Hardhat accounts the e2e harness hands to registries (4 to 19).

    The node funds only accounts 0-9 (`hardhat-node/hardhat.config.js`), while the harness
    hands out pairs up to 19: with this package's registry beside the audit's two and the
    shared one, the fourth registry to start would get accounts 10 and 11, with no ether.
    """
    w3 = Web3(Web3.HTTPProvider(node.url))
    for index in range(4, 20):
        address = dev_account(index).address
        if w3.eth.get_balance(address) < 10**18:
            response = w3.provider.make_request(
                RPCEndpoint("hardhat_setBalance"), [address, hex(10**22)]
            )
            assert "error" not in response, response


@pytest.fixture(scope="session")
def web_registry(
    hardhat: HardhatNode, accounts: Accounts, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    """A registry of this package's own, serving the pages with a block explorer configured."""
    fund_registry_accounts(hardhat)
    with start_registry(
        hardhat,
        tmp_path_factory.mktemp("e2e-browser"),
        accounts,
        origin="browser.certreg.test/log",
        extra_env={"CERTREG_BLOCK_EXPLORER_TX_URL": EXPLORER},
        # every kind, so that the portal's form is tried for each (test_portal_pages.py)
        issuer_kinds=[kind.value for kind in CertificateKind],
    ) as running:
        yield running
        errors = running.server_errors()
    assert not errors, "the server logged errors:\n" + "\n".join(errors[:20])


def new_context(browser: Browser, *, locale: str = "vi-VN", **options: Any) -> BrowserContext:
    """A phone-sized context with JavaScript off: the pages must work without it."""
    settings = {**PHONE, "locale": locale, "java_script_enabled": False, **options}
    return browser.new_context(**settings)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page in a Vietnamese phone's browser."""
    context = new_context(browser)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = SCREENSHOTS
    if folder.exists():
        for pattern in ("verify-*.png", "portal-*.png"):
            for old in folder.glob(pattern):
                old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pdf_tools_available() -> None:
    for tool in ("pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool}: not found, want Debian's poppler-utils (`make install`)")


# --- the portal: its people, contexts, axe-core -------------------------------------------------

#: a desktop browser's window (the phone is PHONE)
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
#: axe-core, installed from npm with the Hardhat node's packages (hardhat-node/package.json)
AXE = Path(__file__).resolve().parents[3] / "hardhat-node" / "node_modules" / "axe-core"
PORTAL_PASSWORD = "một mật khẩu cổng quản lý đủ dài"


@dataclass(frozen=True)
class PortalPeople:
    """Logins of the demo CB's admin and officer, made as the authority's admin would."""

    cb_admin: str
    officer: str
    password: str = PORTAL_PASSWORD


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _account(http: httpx2.Client, headers: dict[str, str], **account: str) -> None:
    """An account made by the holder of `headers`, its first password set with its setup token
    (the setup page's call)."""
    created = http.post("/v1/accounts", json=account, headers=headers)
    assert created.status_code == 201, created.text
    setup = _bearer(created.json()["setup_token"])
    password = http.put("/v1/me/password", json={"new_password": PORTAL_PASSWORD}, headers=setup)
    assert password.status_code == 204, password.text


@pytest.fixture(scope="session")
def portal_people(web_registry: RunningRegistry) -> PortalPeople:
    """The authority's first admin (`certreg authority init`, then a token with its setup
    token), the demo CB's admin made by it, and an officer made by that admin signed in with
    its password: over the CLI and HTTP only, as the e2e harness reaches the registry."""
    reg = web_registry
    init = certreg(
        "authority", "init", "--name", "Quản trị Cơ quan", "--json",
        env=reg.env, cwd=reg.data_dir,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    token = reg.http.post(
        "/v1/tokens", json={"label": "browser"}, headers=_bearer(init.json()["setup_token"])
    )
    assert token.status_code == 201, token.text
    authority = _bearer(token.json()["secret"])
    people = PortalPeople(cb_admin="portal-admin", officer="portal-officer")
    _account(
        reg.http, authority, role="cb_admin", issuer_id=ISSUER_ID,
        name="Nguyễn Thị Quản Trị", login=people.cb_admin,
    )  # fmt: skip
    with httpx2.Client(base_url=reg.url, timeout=30) as admin:
        session = admin.post(
            "/v1/auth/login", json={"login": people.cb_admin, "password": PORTAL_PASSWORD}
        )
        assert session.status_code == 200, session.text
        csrf = {CSRF_HEADER: session.json()["csrf_token"]}
        _account(
            admin, csrf, role="cb_officer", issuer_id=ISSUER_ID,
            name="Trần Văn Cán Bộ", login=people.officer,
        )  # fmt: skip
    return people


def portal_context(
    browser: Browser, *, size: str = "desktop", locale: str = "en-US", script: bool = False
) -> BrowserContext:
    """A context for the portal, desktop (1280 × 800) or phone (PHONE) sized; without script
    unless `script` (axe-core runs in the page: the portal's pages carry none, their CSP
    allows none)."""
    screen = DESKTOP if size == "desktop" else PHONE
    return browser.new_context(**screen, locale=locale, java_script_enabled=script)


def sign_in(page: Page, url: str, login: str, password: str = PORTAL_PASSWORD) -> None:
    """Sign in through the login form (English); the dashboard is shown after."""
    page.goto(f"{url}/portal/login?lang=en")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda address: urlsplit(address).path == "/portal")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now: `{id, impact, help, nodes}` each,
    `nodes` the first few offending elements' selectors. The page's context needs script."""
    source = AXE / "axe.min.js"
    if not source.is_file():
        pytest.fail(f"{source}: not found, want axe-core from npm (`make install`)")
    # Evaluated over the DevTools protocol: the page's CSP, which allows no script, is kept.
    page.evaluate(source.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
             v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))"""
    )
    return found
