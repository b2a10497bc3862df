"""A real server and a real browser: Debian's Chromium driven by Playwright.

``playwright install`` cannot download browsers here, so the browser is launched from
``/usr/bin/chromium`` (``make test`` and ``.ci/run`` install it). Without it the browser
tests skip with a reason, except under ``CI=true``, where they fail. Screenshots of every
page go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from ablab.domain.keys import Scope
from ablab.services.access.users import create_user
from ablab.services.context import Context
from tests.server.conftest import Project, RunningServer, serving

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
PASSWORD = "correct horse battery"


def chromium_path() -> str | None:
    return os.environ.get("ABLAB_CHROMIUM") or shutil.which("chromium") or None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serving(tmp_path_factory.mktemp("console"))


@dataclass
class Console:
    """A project of the running server, with a user of each role."""

    server: RunningServer
    project: Project

    @property
    def url(self) -> str:
        return self.server.url

    def user(self, role: Scope) -> str:
        name = f"{role.value}-{self.project.name}"
        ctx = Context(self.server.state.store, self.project.id, "test:setup")
        create_user(ctx, name, PASSWORD, role)
        return name

    def api(self) -> httpx.Client:
        return self.project.http()


@pytest.fixture
def console(server: RunningServer) -> Console:
    return Console(server, server.project())


# Per module, not per session: Playwright's sync API keeps an event loop running in this
# thread while it is open, and the suites after the console call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Chromium is not installed (apt-get install chromium)")
        pytest.skip("Chromium is not installed: apt-get install chromium (make test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, url: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{url}/experiments")
