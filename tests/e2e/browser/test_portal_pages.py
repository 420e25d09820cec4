"""The portal for a CB's people in Debian's Chromium (Playwright), against the real server,
its anchoring worker and the chain: pages without script, as a person without it uses them.

An officer and an admin of the demo CB (made as the authority's admin makes them: CLI and
HTTP, `portal_people`) sign in through the form, are told of a wrong password, and sign out.
The officer imports a 200-row spreadsheet of calibration certificates with five deliberate
errors, reads each by row and column, uploads the corrected file, confirms, follows the
progress page (it refreshes itself) and downloads the result; withdraws one certificate through
its page and confirmation step, and sees its public page say so once the next checkpoint is
anchored. The way from the sign-in page to a certificate is walked with the keyboard only
(Tab, Shift+Tab, Enter, Space), with a skip link and a visible focus; axe-core finds no serious
or critical violation on any page; a certificate of each of the seven kinds is issued through
the form (filled in, reviewed, issued); the dashboard, the import preview and the issue form are
photographed at desktop and phone size (`screenshots/portal-*.png`; the README shows copies
from docs/img/).

A new page is tested with the same helpers: `officer` (a signed-in page), `portal_context`,
`sign_in`, `check_axe` (and an entry in `AXE_PAGES`), `shoot` for its screenshots.
"""

import csv
import datetime as dt
import io
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, Response

from api.web.i18n import catalogue
from api.web.portal.issue import values_of
from registry.fields import CertificateKind
from registry.samples import typed_samples
from registry.sheets import rows_csv
from tests.e2e.browser.conftest import (
    PortalPeople,
    axe_violations,
    new_context,
    portal_context,
    sign_in,
)
from tests.e2e.harness import ISSUER_ID, RunningRegistry

pytestmark = pytest.mark.e2e

KIND = "calibration"
#: the dashboard's URL, with whatever query
DASHBOARD = re.compile(r"^http://127\.0\.0\.1:[0-9]+/portal(\?.*)?$")
ROWS = 200
#: how long the worker may take to anchor a checkpoint, and an import to be issued
ANCHOR_TIMEOUT_S = 60.0
IMPORT_TIMEOUT_S = 60.0
#: the deliberate errors: (index of the data row, column, what the page says, in English);
#: the spreadsheet's row is the index + 2 (its first row is the header)
ERRORS = (
    (11, "province", "want the two-digit code of one of the 34 provincial-level units"),
    (47, "result_1_unit", "want a unit such as mm"),
    (88, "serial", "Field required"),
    (123, "calibration_date", "day value is outside expected range"),
    (170, "number", "again, want each once (row 171)"),
)


# --- the import files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportFiles:
    with_errors: bytes
    fixed: bytes
    numbers: list[str]


def _rows(tag: str) -> list[dict[str, Any]]:
    """ROWS calibration certificates of the demo CB, dated relative to today (UTC) so that
    they are valid whenever the suite runs."""
    base = next(
        {k: v for k, v in s.items() if k != "issuer_id"}
        for s in typed_samples()
        if s["issuer_id"] == ISSUER_ID and s["kind"] == KIND
    )
    today = dt.datetime.now(dt.UTC).date()

    def day(offset: int) -> str:
        return (today + dt.timedelta(days=offset)).isoformat()

    base |= {
        "issued_on": day(-10),
        "valid_from": day(-10),
        "valid_until": None,
        "calibration_date": day(-12),
        "due_date": day(353),
    }
    return [{**base, "number": f"{tag}-{i:03d}", "serial": f"SN{i:06d}"} for i in range(ROWS)]


@pytest.fixture(scope="module")
def files() -> ImportFiles:
    """The file as filled in, with five mistakes, and as corrected."""
    good = _rows(f"PORTAL-{secrets.token_hex(2).upper()}")
    bad = [dict(row) for row in good]
    bad[11]["province"] = "Hà Giang"  # merged into Tuyên Quang in 2025
    bad[47]["results"] = [{**bad[47]["results"][0], "unit": "xyzzy"}]
    bad[88]["serial"] = ""
    bad[123]["calibration_date"] = "31/02/2026"
    bad[170]["number"] = bad[169]["number"]
    return ImportFiles(
        with_errors=rows_csv(bad, KIND),
        fixed=rows_csv(good, KIND),
        numbers=[row["number"] for row in good],
    )


# --- helpers -------------------------------------------------------------------------------------


def visible(text: str) -> str:
    """Text without the invisible bidi isolates around data."""
    return text.replace("\u2068", "").replace("\u2069", "")


def body_text(page: Page) -> str:
    return " ".join(visible(page.locator("main").inner_text()).split())


def shoot(page: Page, folder: Path, name: str, size: str) -> None:
    """`screenshots/portal-<name>-<size>.png` of what the window shows."""
    page.screenshot(path=folder / f"portal-{name}-{size}.png")


def scroll_to(page: Page, element_id: str) -> None:
    """Scroll the element to the top of the window (the browser's own scrolling: the pages
    run no script)."""
    page.evaluate("id => document.getElementById(id).scrollIntoView()", element_id)


def fits_width(page: Page) -> bool:
    """Whether the page fits its window's width (a wide table scrolls in its own region)."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    window: int = page.evaluate("innerWidth")
    return width <= window


def unnamed_controls(page: Page) -> list[str]:
    """The page's form controls without an accessible name (a label, aria-label or
    aria-labelledby; a button's text)."""
    found: list[str] = page.locator(
        "input:not([type=hidden]), select, textarea, button"
    ).evaluate_all(
        """els => els.filter(e => {
             if (e.tagName === 'BUTTON')
               return !(e.innerText.trim() || e.getAttribute('aria-label'));
             return !((e.labels && e.labels.length) || e.getAttribute('aria-label')
                      || e.getAttribute('aria-labelledby'));
           }).map(e => e.outerHTML.slice(0, 120))"""
    )
    return found


def check_axe(page: Page, name: str, report: dict[str, list[dict[str, Any]]]) -> None:
    """axe-core on the page as it is now; its violations kept under `name`."""
    report[name] = axe_violations(page)


def upload(page: Page, url: str, name: str, content: bytes) -> str:
    """Upload a file on the imports page; the import page's URL (its preview)."""
    page.goto(f"{url}/portal/imports?lang=en")
    page.get_by_label("Type").select_option(KIND)
    page.get_by_label("File").set_input_files(
        files=FilePayload(name=name, mimeType="text/csv", buffer=content)
    )
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url("**/portal/imports/*")
    return page.url.split("?")[0]


def poll(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {timeout_s} s"
        time.sleep(0.2)


# --- fixtures: a signed-in officer, the two imports ----------------------------------------------


@pytest.fixture(scope="module")
def officer_context(
    browser: Browser, web_registry: RunningRegistry, portal_people: PortalPeople
) -> Iterator[BrowserContext]:
    """A desktop browser without script, the officer signed in."""
    context = portal_context(browser)
    try:
        sign_in(context.new_page(), web_registry.url, portal_people.officer)
        yield context
    finally:
        context.close()


@pytest.fixture
def officer(officer_context: BrowserContext) -> Iterator[Page]:
    page = officer_context.new_page()
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def error_import(
    officer_context: BrowserContext, web_registry: RunningRegistry, files: ImportFiles
) -> str:
    """The URL of the file with mistakes, uploaded and checked (never confirmed)."""
    page = officer_context.new_page()
    try:
        return upload(page, web_registry.url, "hieu-chuan-thang-3.csv", files.with_errors)
    finally:
        page.close()


@dataclass(frozen=True)
class FixedImport:
    url: str
    #: each view of the import's page after confirming: (state shown, its Refresh header)
    views: list[tuple[str, str | None]]
    result: list[list[str]]  # the result file's lines, header first


def _job_state(response: Response) -> str:
    return response.text().split('class="lead"', 1)[1].split("·", 1)[1].split("<", 1)[0].strip()


@pytest.fixture(scope="module")
def fixed_import(
    officer_context: BrowserContext,
    web_registry: RunningRegistry,
    files: ImportFiles,
    error_import: str,
) -> FixedImport:
    """The corrected file uploaded, checked, confirmed and issued, followed on its page."""
    page = officer_context.new_page()
    try:
        url = upload(page, web_registry.url, "hieu-chuan-thang-3-da-sua.csv", files.fixed)
        assert url != error_import
        assert page.locator("[data-rows]").get_attribute("data-valid") == str(ROWS)
        assert not page.locator("[data-errors]").count()
        assert not page.locator("#skip_invalid").count()  # nothing to leave out
        views: list[tuple[str, str | None]] = []

        def seen(response: Response) -> None:
            if response.url.split("?")[0] == url and response.request.method == "GET":
                views.append((_job_state(response), response.headers.get("refresh")))

        page.on("response", seen)
        confirm = page.locator("form[action*='/confirm'] button")
        assert visible(confirm.inner_text()) == f"Issue {ROWS} certificates"
        confirm.click()
        # The page reloads itself (Refresh: 2) until the import is done; no script runs.
        page.locator(f'[data-issued="{ROWS}"]').wait_for(timeout=IMPORT_TIMEOUT_S * 1000)
        page.get_by_role("link", name="Download the result (CSV)").wait_for()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the result (CSV)").click()
        path = download.value.path()
        lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        page.remove_listener("response", seen)
        return FixedImport(url=url, views=views, result=lines)
    finally:
        page.close()


# --- signing in and out --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["officer", "cb_admin"])
def test_sign_in_a_wrong_password_and_sign_out(
    who: str, browser: Browser, web_registry: RunningRegistry, portal_people: PortalPeople
) -> None:
    login = getattr(portal_people, who)
    context = portal_context(browser)
    try:
        page = context.new_page()
        page.goto(f"{web_registry.url}/portal?lang=en")
        assert "/portal/login" in page.url  # not signed in: the sign-in page, then back
        page.get_by_label("Login").fill(login)
        page.get_by_label("Password").fill("not the password at all")
        page.get_by_role("button", name="Sign in").click()
        error = page.locator("#login-error")
        assert error.inner_text() == "The login, password or code is wrong."
        assert error.get_attribute("role") == "alert"
        assert page.get_by_label("Login").get_attribute("aria-describedby") == "login-error"
        assert page.get_by_label("Login").input_value() == login  # kept for the next try

        page.get_by_label("Password").fill(portal_people.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(DASHBOARD)
        assert page.locator("h1").inner_text() == "Certificates"
        bar = visible(page.locator(".portal-who").inner_text())
        role = "CB officer" if who == "officer" else "CB administrator"
        assert role in bar and ISSUER_ID in bar
        nav = page.get_by_role("navigation", name="Portal")
        assert nav.get_by_role("link", name="Import", exact=True).count() == (
            1 if who == "officer" else 0
        )
        assert nav.get_by_role("link", name="Accounts").count() == (0 if who == "officer" else 1)

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/portal/login?*")
        assert "You have signed out." in body_text(page)
        page.goto(f"{web_registry.url}/portal?lang=en")
        assert "/portal/login" in page.url
    finally:
        context.close()


# --- importing -----------------------------------------------------------------------------------


def test_the_preview_lists_each_error_by_row_and_column(officer: Page, error_import: str) -> None:
    officer.goto(f"{error_import}?lang=en")
    counts = officer.locator("[data-rows]")
    assert counts.get_attribute("data-rows") == str(ROWS)
    assert counts.get_attribute("data-valid") == str(ROWS - len(ERRORS))
    assert visible(counts.inner_text()) == f"{ROWS} rows: {ROWS - 5} ready to issue, 5 with errors."
    assert "Errors (5)" in [visible(h) for h in officer.locator("h2").all_inner_texts()]
    table = officer.locator("table[data-errors] tbody tr")
    shown = [
        [visible(cell) for cell in row]
        for row in table.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    ]
    assert [(int(row), column) for row, column, _ in shown] == [
        (index + 2, column) for index, column, _ in ERRORS
    ]
    for (_, _, message), (_, _, expected) in zip(shown, ERRORS, strict=True):
        assert expected in message, (message, expected)
    # Confirming with errors leaves them out only when ticked (the box is required).
    skip = officer.locator("#skip_invalid")
    assert visible(officer.locator("label[for=skip_invalid]").inner_text()) == (
        f"Issue the {ROWS - 5} valid rows and leave out the 5 rows with errors"
    )
    assert skip.get_attribute("required") is not None
    assert not skip.is_checked()
    assert unnamed_controls(officer) == []


def test_the_fixed_file_is_issued_with_progress_and_a_result(
    fixed_import: FixedImport, files: ImportFiles
) -> None:
    views = fixed_import.views
    assert views, "the import's page was never shown after confirming"
    # While it is issued the page asks to be shown again in 2 s; once done, it stops.
    for state, refresh in views[:-1]:
        assert state in ("waiting to be issued", "issuing"), views
        assert refresh == "2", views
    assert views[-1] == ("done", None), views
    header, *lines = fixed_import.result
    assert header[:4] == ["dòng/row", "số chứng nhận/number", "mã chứng nhận/certificate_id",
                          "kết quả/outcome"]  # fmt: skip
    assert len(lines) == ROWS
    assert [line[3] for line in lines] == ["issued"] * ROWS
    assert [line[1] for line in lines] == files.numbers
    assert all(line[2].startswith("0x") and len(line[2]) == 66 for line in lines)


# --- withdrawing ---------------------------------------------------------------------------------


def _public_outcome(page: Page, url: str) -> str:
    page.goto(url)
    outcome = page.locator("section.verdict").get_attribute("data-outcome")
    assert outcome is not None
    return outcome


def test_withdraw_one_then_the_public_page_says_so(
    officer: Page, fixed_import: FixedImport, web_registry: RunningRegistry, browser: Browser
) -> None:
    _, number, certificate_id, _, _ = fixed_import.result[1 + 5]
    public = new_context(browser, locale="en-US")  # a phone, without script
    try:
        reader = public.new_page()
        verify = f"{web_registry.url}/verify/{certificate_id}?lang=en"
        poll(
            lambda: _public_outcome(reader, verify) == "valid",
            timeout_s=ANCHOR_TIMEOUT_S,
            what=f"{number} valid on its public page",
        )

        officer.goto(f"{web_registry.url}/portal?lang=en")
        officer.get_by_label("Search for").fill(number)
        officer.get_by_role("button", name="Search").click()
        officer.get_by_role("link", name=number).click()
        assert officer.locator("h1").inner_text() == number
        officer.get_by_role("link", name="Withdraw").click()
        officer.get_by_label("Reason").select_option("error-in-issue")
        officer.get_by_label("Note (optional)").fill("Số sê-ri ghi sai")
        officer.get_by_role("button", name="Continue").click()
        # The confirmation page: what will be recorded; nothing is changed yet.
        assert officer.get_by_role("heading", name="Withdraw certificate").count() == 1
        summary = body_text(officer)
        assert number in summary and "error in the certificate as issued" in summary
        assert "Số sê-ri ghi sai" in summary
        assert _public_outcome(reader, verify) == "valid"
        officer.get_by_role("button", name="Confirm the withdrawal").click()
        officer.wait_for_url(f"**/portal/certificates/{certificate_id}?*done=withdraw*")
        assert "The certificate is withdrawn." in body_text(officer)
        assert officer.locator(".lead [data-status]").get_attribute("data-status") == "withdrawn"

        # Once the worker anchors the next checkpoint, the public page says withdrawn.
        poll(
            lambda: _public_outcome(reader, verify) == "withdrawn",
            timeout_s=ANCHOR_TIMEOUT_S,
            what=f"{number} withdrawn on its public page",
        )
        assert visible(reader.locator("#verdict-title").inner_text()).strip() == "Withdrawn"
        assert "error in the certificate as issued" in visible(reader.locator("body").inner_text())
    finally:
        public.close()


# --- the keyboard only ---------------------------------------------------------------------------

_FOCUS = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  return {tag: e.tagName, id: e.id, cls: e.className, href: e.getAttribute('href') || '',
          text: (e.innerText || '').trim().slice(0, 60),
          outline: s.outlineStyle !== 'none' ? parseFloat(s.outlineWidth) : 0,
          onScreen: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
                    && box.left < innerWidth && box.top < innerHeight};
}"""


def _focused(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(_FOCUS)
    return found


def _tab_to(page: Page, matches: Callable[[dict[str, Any]], bool], *, limit: int = 40) -> None:
    """Tab until the focused element `matches`, each one's focus visible on the way."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if focused["tag"] != "BODY":
            assert focused["outline"] >= 2, f"no visible focus on {focused}"
        if matches(focused):
            return
    raise AssertionError(f"not reached in {limit} presses of Tab; last {_focused(page)}")


def _skip_to_main(page: Page) -> None:
    """The first Tab reaches the skip link, shown on the screen; Enter moves to the content."""
    page.keyboard.press("Tab")
    focused = _focused(page)
    assert "skip" in focused["cls"] and focused["href"] == "#main", focused
    assert focused["onScreen"] and focused["outline"] >= 2, focused
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "main"


def test_keyboard_only_from_sign_in_to_a_certificate(
    browser: Browser,
    web_registry: RunningRegistry,
    portal_people: PortalPeople,
    fixed_import: FixedImport,
) -> None:
    context = portal_context(browser)
    try:
        page = context.new_page()
        page.goto(f"{web_registry.url}/portal/login?lang=en")
        assert unnamed_controls(page) == []
        _skip_to_main(page)
        _tab_to(page, lambda f: f["id"] == "login", limit=3)
        page.keyboard.type(portal_people.officer)
        _tab_to(page, lambda f: f["id"] == "password", limit=1)
        page.keyboard.type(portal_people.password)
        _tab_to(page, lambda f: f["tag"] == "BUTTON", limit=3)
        page.keyboard.press("Shift+Tab")  # one back, to the code of an authenticator app
        assert _focused(page)["id"] == "totp_code"
        page.keyboard.press("Tab")
        assert _focused(page)["text"] == "Sign in"
        page.keyboard.press("Space")  # a button takes Space as well as Enter
        page.wait_for_url(DASHBOARD)

        assert unnamed_controls(page) == []
        _skip_to_main(page)
        _tab_to(page, lambda f: f["href"].startswith("/portal/certificates/"))
        number = _focused(page)["text"]
        page.keyboard.press("Enter")
        page.wait_for_url("**/portal/certificates/*")
        assert visible(page.locator("h1").inner_text()) == number
        _skip_to_main(page)
        _tab_to(page, lambda f: f["text"] == "Public verification page")
        page.keyboard.press("Enter")
        page.wait_for_url("**/verify/*")
        assert page.locator("section.verdict").get_attribute("data-outcome") is not None
    finally:
        context.close()


# --- axe-core ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """What a step of the axe-core walk needs to reach its page."""

    url: str
    preview: str  # the import with errors
    done: FixedImport


def _wrong_password(page: Page, _: Where) -> None:
    page.get_by_label("Login").fill("nobody")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#login-error").wait_for()


def _confirmation(page: Page, _: Where) -> None:
    page.get_by_label("Reason").select_option("holder-request")
    page.get_by_role("button", name="Continue").click()


#: the pages axe-core checks, in order, each reached from the one before (signed in as the
#: officer after the first): name → how
AXE_PAGES: dict[str, Callable[[Page, Where], object]] = {
    "login": lambda page, at: page.goto(f"{at.url}/portal/login?lang=en"),
    "login, wrong password": _wrong_password,
    "dashboard": lambda page, at: page.goto(f"{at.url}/portal?lang=en"),
    "certificate": lambda page, at: page.goto(
        f"{at.url}/portal/certificates/{at.done.result[1][2]}?lang=en"
    ),
    "action form": lambda page, _: page.get_by_role("link", name="Suspend").click(),
    "action confirmation": _confirmation,
    "imports": lambda page, at: page.goto(f"{at.url}/portal/imports?lang=en"),
    "import preview": lambda page, at: page.goto(f"{at.preview}?lang=en"),
    "import done": lambda page, at: page.goto(f"{at.done.url}?lang=en"),
    "issue form": lambda page, at: page.goto(f"{at.url}/portal/issue?kind=calibration&lang=en"),
}


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_axe_finds_no_serious_violation(
    *,
    size: str,
    browser: Browser,
    web_registry: RunningRegistry,
    portal_people: PortalPeople,
    fixed_import: FixedImport,
    error_import: str,
) -> None:
    report: dict[str, list[dict[str, Any]]] = {}
    context = portal_context(browser, size=size, script=True)
    try:
        page = context.new_page()
        where = Where(web_registry.url, error_import, fixed_import)
        for name, reach in AXE_PAGES.items():
            reach(page, where)
            check_axe(page, name, report)
            if name == "login, wrong password":
                sign_in(page, web_registry.url, portal_people.officer)
    finally:
        context.close()
    serious = []
    for name, violations in report.items():
        for v in violations:
            line = f"{name}: {v['id']} ({v['impact']}) {v['help']}: {v['nodes']}"
            print(line)  # the minor and moderate ones, for the test's output
            if v["impact"] in ("serious", "critical"):
                serious.append(line)
    assert not serious, "axe-core:\n" + "\n".join(serious)


# --- the issue form, one certificate of each kind ----------------------------------------------


def _form_values(kind: CertificateKind, number: str) -> dict[str, str]:
    """A typed sample of `kind` as a person types it into the form (dated to be valid now)."""
    body = {k: v for k, v in typed_samples_of(kind).items() if k != "issuer_id"}
    return values_of(body | {"number": number}, kind)


def typed_samples_of(kind: CertificateKind) -> dict[str, Any]:
    return next(s for s in typed_samples() if s["kind"] == kind.value)


def fill_form(page: Page, values: dict[str, str]) -> None:
    """Type each value into its input (choose it in a select), as a person does."""
    for name, value in values.items():
        field = page.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


@pytest.mark.parametrize("kind", list(CertificateKind))
def test_issue_one_of_each_kind_through_the_form(
    officer: Page, web_registry: RunningRegistry, kind: CertificateKind
) -> None:
    """The form of the kind, filled in, reviewed, issued: the certificate's page says so and
    its public page verifies it."""
    url = web_registry.url
    officer.goto(f"{url}/portal/issue?lang=en")
    officer.get_by_role("link", name=catalogue("en")[f"kind.{kind.value}"], exact=True).click()
    assert officer.url.startswith(f"{url}/portal/issue?kind={kind.value}")
    number = f"FORM-{kind.value[:4].upper()}-{secrets.token_hex(2).upper()}"
    fill_form(officer, _form_values(kind, number))
    officer.get_by_role("button", name="Continue to the review").click()
    text = body_text(officer)
    assert number in text, text[:2000]
    officer.get_by_role("button", name="Issue the certificate").click()
    officer.wait_for_url(re.compile(r".*/portal/certificates/0x[0-9a-f]{64}\?.*done=issued.*"))
    certificate_id = officer.url.split("/portal/certificates/")[1].split("?")[0]
    assert number in body_text(officer)
    answer = web_registry.http.get(f"/v1/certificates/{certificate_id}").json()
    assert (answer["kind"], answer["record"]["format"]) == (kind.value, 2)


# --- screenshots ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_of_the_dashboard_the_import_preview_and_the_form(
    *,
    size: str,
    browser: Browser,
    web_registry: RunningRegistry,
    portal_people: PortalPeople,
    error_import: str,
    fixed_import: FixedImport,
    screenshots: Path,
) -> None:
    context = portal_context(browser, size=size)
    try:
        page = context.new_page()
        sign_in(page, web_registry.url, portal_people.officer)
        if size == "phone":  # the filters fill a phone's screen: show the list under them
            scroll_to(page, "results-title")
        shoot(page, screenshots, "dashboard", size)
        assert fits_width(page), "the dashboard scrolls sideways"
        page.goto(f"{error_import}?lang=en")
        # The counts, then the errors by row and column (the columns' mapping below them).
        scroll_to(page, "check")
        shoot(page, screenshots, "import-preview", size)
        assert fits_width(page), "the import preview scrolls sideways"
        # The issue form of a calibration certificate, its measured points as fieldsets.
        page.goto(f"{web_registry.url}/portal/issue?kind=calibration&lang=en")
        shoot(page, screenshots, "issue-form", size)
        assert fits_width(page), "the issue form scrolls sideways"
    finally:
        context.close()
