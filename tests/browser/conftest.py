"""Playwright driving the system Chromium (Debian's `chromium` package), never a downloaded build."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time

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
def new_page(sqlite_waits_on_locks, browser, live_server, transactional_db):
    # sqlite_waits_on_locks first: it is undone last, after the database flush at teardown,
    # which can meet a read lock of a request the live server is still finishing.
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


class FieldInThread:
    """The real head-end (its command worker and database sink) and a simulated field of
    collectors and meters dialling in over loopback TCP, on an event loop of their own in a
    thread, beside the live server: a page's command reaches a simulated meter for real."""

    def __init__(self, fleet_for_port):
        self._fleet_for_port = fleet_for_port  # headend port -> fleet description (sim.fleet)
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.sim = None

    def start(self, timeout: float = 40.0) -> FieldInThread:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="field", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._failed:
            raise RuntimeError(f"the simulated field did not start: {self._failed!r}")
        return self

    async def _main(self) -> None:
        from meterhub import runtime
        from tests.headend.test_headend_with_sim import dialled_in

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        headend, _scheduler, worker = runtime.build_headend("browser-test")
        worker.interval_s = 0.2
        try:
            port = await headend.start("127.0.0.1", 0)
            fleet = self._fleet_for_port(port)
            self.sim = await dialled_in(headend, fleet, sum(len(c["buses"]) for c in fleet["collectors"]))
        except BaseException as exc:
            self._failed = exc
            self._ready.set()
            raise
        task = asyncio.create_task(worker.run())
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.sim.stop()
            await headend.close()

    def meter(self, address: str):
        return self.sim.meter(address)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


def _waiting_on_locks(method, timeout_s: float = 10.0):
    import sqlite3

    def wait_and_retry(self, *args, **kwargs):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    return wait_and_retry


@pytest.fixture
def sqlite_waits_on_locks(monkeypatch):
    """The tests' in-memory SQLite is shared between threads through SQLite's shared cache,
    where a statement meeting another connection's lock fails at once ("database table is
    locked") instead of waiting as it does on a file database (busy timeout). With the
    head-end writing from its own thread beside the live server, let each statement wait and
    try again, as on a file. Writers take their lock at BEGIN (IMMEDIATE), so this cannot
    deadlock. Nothing changes on PostgreSQL."""
    from django.db import connection
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    if connection.vendor == "sqlite":
        for name in ("execute", "executemany"):
            monkeypatch.setattr(SQLiteCursorWrapper, name, _waiting_on_locks(getattr(SQLiteCursorWrapper, name)))


@pytest.fixture
def simulated_field(transactional_db, sqlite_waits_on_locks):
    """start(fleet_for_port) -> FieldInThread, stopped after the test."""
    running = []

    def start(fleet_for_port) -> FieldInThread:
        field = FieldInThread(fleet_for_port).start()
        running.append(field)
        return field

    yield start
    for field in running:
        field.stop()
