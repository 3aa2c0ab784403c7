"""Driving the pages in a real browser: Debian's headless Chromium through Playwright, and the
helpers the browser tests share (tests/acceptance/conftest.py imports its fixtures).

With SAVE_SCREENSHOTS=1 the screenshots go to docs/screenshots/ (the ones the README shows);
otherwise to the test's temporary folder, so a test run never changes the tree.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.conftest import TEST_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
NEEDS_CHROMIUM = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} "
                                    "(scripts/setup.sh --for-tests installs Debian's chromium)")
LAUNCH_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PIPELINE_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser, stack) -> Iterator[Callable[..., Page]]:
    """`open_page(javascript=True, answers=())`: a fresh browser context on the stack's web
    server (started on first use). Errors a page throws or logs fail the test, and so does a
    page served without the Content Security Policy: every test runs the pages under it, so a
    script or style it blocks shows up as a logged error ("... violates the following Content
    Security Policy directive ..."). `answers` are the error statuses (409, 410) the test
    expects a page to be served with: Chromium logs each one as an error too."""
    contexts = []
    errors: list[str] = []

    def logged(page: Page, text: str, answers: tuple[int, ...]) -> None:
        # The reason phrase is whatever the server sends: werkzeug's "CONFLICT", "Conflict".
        if not any(text.lower().endswith(f"responded with a status of {code} ({reason})")
                   for code in answers for reason in (HTTPStatus(code).phrase.lower(),)):
            errors.append(f"{page.url}: {text}")

    def open_(*, javascript: bool = True, answers: tuple[int, ...] = ()) -> Page:
        if not stack.base_url:
            stack.start_web()
        context = browser.new_context(base_url=stack.base_url, viewport=VIEWPORT,
                                      java_script_enabled=javascript)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and logged(page, msg.text, answers))
        page.on("response", lambda response: response.request.resource_type == "document"
                and not served_under_the_policy(response)
                and errors.append(f"{response.url}: served without the CSP"))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, errors


def served_under_the_policy(response) -> bool:
    """A page refuses every frame; a PDF, only other sites' (our pages preview drafts). What
    Chromium's PDF viewer loads itself (its extension's page, its own fetch of the PDF, with no
    headers) is not ours."""
    if not response.url.startswith(("http://", "https://")) or not response.headers:
        return True
    policy = response.headers.get("content-security-policy", "")
    if response.headers.get("content-type", "").startswith("application/pdf"):
        return "frame-ancestors 'self'" in policy
    return "frame-ancestors 'none'" in policy


@pytest.fixture
def screenshot(tmp_path) -> Callable[[Page, str], Path]:
    folder = SCREENSHOTS if os.environ.get("SAVE_SCREENSHOTS") == "1" else tmp_path / "screenshots"

    def take(page: Page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")
        return path

    return take


def sign_in(page: Page, path: str, email: str) -> None:
    """Open `path`, get sent to the login page, sign in, and land back on `path`."""
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def fill_customer(page: Page, customer: dict[str, str]) -> None:
    for name, value in customer.items():
        page.locator(f"#customer_{name}").fill(value)


def fill_line(page: Page, row: int, line: dict[str, str]) -> None:
    for name, value in line.items():
        page.locator(f"#lines-{row}-{name}").fill(value)


def card(page: Page, title: str) -> Locator:
    """The section of the page under the heading `title`."""
    return page.locator("section", has=page.get_by_role("heading", name=title, exact=True))


def status_badge(page: Page) -> Locator:
    return page.locator("h1 .badge")


def wait_until_sent(page: Page, stack) -> None:
    """The detail page follows the pipeline by itself (app.js polls the API and reloads)."""
    try:
        expect(status_badge(page)).to_have_text("sent", timeout=PIPELINE_TIMEOUT_MS)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.all_logs()}") from None


def reload_until(page: Page, locator: Locator, stack, timeout: float = 90) -> None:
    """For pages that do not refresh the part under test by themselves."""
    deadline = time.monotonic() + timeout
    while locator.count() == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{locator} never appeared on {page.url}\n{stack.all_logs()}")
        time.sleep(1)
        page.reload()


def contrast(color: str, background: str) -> float:
    """WCAG's contrast ratio of two CSS `rgb(...)` colours (4.5 is the minimum for text)."""
    def luminance(css: str) -> float:
        channels = [int(v) / 255 for v in re.findall(r"\d+", css)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(color), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


