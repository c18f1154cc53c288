"""Playwright driving the system Chromium (Debian's `chromium` package), never a downloaded build."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import PASSWORD, skip_or_fail

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    candidate = os.environ.get("METERHUB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if os.path.exists(candidate) else None


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        skip_or_fail("no Chromium: install Debian's package (`apt-get install chromium`) "
                     "or set METERHUB_CHROMIUM to a Chromium binary")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser, live_server, transactional_db):
    contexts = []

    def make(width=1280, height=800, locale="en-US"):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                      base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def operator_login(make_operator):
    def login(page, role="administrator"):
        user = make_operator(role)
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        return user

    return login
