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
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from web3 import Web3
from web3.types import RPCEndpoint

from anchoring.devnode import HardhatNode, dev_account
from tests.e2e.harness import Accounts, RunningRegistry, start_registry

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
        for old in folder.glob("verify-*.png"):
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pdf_tools_available() -> None:
    for tool in ("pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool}: not found, want Debian's poppler-utils (`make install`)")
