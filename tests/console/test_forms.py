"""The forms in the browser: checked in the page before they are sent, checked again on the
server, refused without their CSRF token; and the pages work from the keyboard."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from ablab.domain.keys import Scope
from tests.console.conftest import Console, screenshot, sign_in


def test_a_form_without_its_csrf_token_is_refused(console: Console, page: Any) -> None:
    api = console.api()
    body = {
        "name": "trial",
        "draft": True,
        "variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}],
    }
    assert api.post("/v1/experiments", json=body).status_code == 201
    sign_in(page, console.url, console.user(Scope.WRITE))
    row = page.locator("tr[data-experiment='trial']")
    row.locator("input[name='csrf_token']").evaluate("input => input.remove()")
    row.get_by_role("button", name="Launch").click()
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    expect(page.locator("main")).to_contain_text("security token is missing")
    screenshot(page, "10-csrf-refused")
    assert api.get("/v1/experiments/trial").json()["status"] == "draft"


def test_the_new_form_is_checked_in_the_page_and_on_the_server(console: Console, page: Any) -> None:
    sign_in(page, console.url, console.user(Scope.WRITE))
    page.goto(f"{console.url}/experiments/new")
    page.get_by_label("Name", exact=True).fill("split-check")
    page.get_by_label("Variant 1 weight in percent").fill("70")
    page.get_by_label("Variant 2 weight in percent").fill("20")
    page.get_by_role("button", name="Create the experiment").click()
    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("The weights add up to 90%")
    expect(page).to_have_url(re.compile(r"/experiments/new$"))  # not sent
    # A duplicate name slips past nothing in the page, but the server refuses it too.
    page.get_by_label("Variant 2 name").fill("control")
    page.get_by_label("Variant 2 weight in percent").fill("30")
    page.get_by_role("button", name="Create the experiment").click()
    expect(errors).to_contain_text("Two variants are named control")
    # Sent past the page's checks, the server gives its own message and keeps the input.
    page.locator("#new-experiment").evaluate("form => form.submit()")
    expect(page.get_by_role("alert")).to_contain_text("control")
    expect(page.get_by_label("Name", exact=True)).to_have_value("split-check")
    expect(page.get_by_label("Variant 1 weight in percent")).to_have_value("70")
    screenshot(page, "11-new-experiment-refused")
    assert console.api().get("/v1/experiments/split-check").status_code == 404


def test_the_pages_work_from_the_keyboard(console: Console, page: Any) -> None:
    api = console.api()
    body = {
        "name": "keyboard",
        "variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}],
    }
    assert api.post("/v1/experiments", json=body).status_code == 201
    sign_in(page, console.url, console.user(Scope.READ))
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # Tab reaches the experiment's View link; Enter opens the drawer, Escape closes it.
    view = page.locator("tr[data-experiment='keyboard']").get_by_role("link", name="View")
    for _ in range(20):
        page.keyboard.press("Tab")
        if view.evaluate("link => link === document.activeElement"):
            break
    expect(view).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("drawer")).to_be_visible()
    expect(page.get_by_role("link", name="Close the details")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("drawer")).to_have_count(0)
    # Every input of the New form has a label (a writer's form: the read role is refused it).
    page.context.clear_cookies()
    sign_in(page, console.url, console.user(Scope.WRITE))
    page.goto(f"{console.url}/experiments/new")
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
        .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
        .map((e) => e.name)"""
    )
    assert unlabelled == []


def test_a_key_made_on_the_keys_page_is_shown_once(console: Console, page: Any) -> None:
    sign_in(page, console.url, console.user(Scope.ADMIN))
    page.goto(f"{console.url}/keys")
    page.get_by_label("Name (who or what uses it)").fill("serving fleet")
    page.get_by_label("sdk").check()
    page.get_by_label("read", exact=True).uncheck()
    page.get_by_role("button", name="Create the key").click()
    shown = page.get_by_test_id("created-key").inner_text()
    assert shown.startswith("abk_")
    whoami = httpx.get(f"{console.url}/v1/whoami", headers={"Authorization": f"Bearer {shown}"})
    assert whoami.json()["scopes"] == ["sdk"]
    screenshot(page, "12-key-created")
    page.goto(f"{console.url}/keys")
    assert shown not in page.content()  # never again
    prefix = "_".join(shown.split("_")[:2])  # abk_<id>; the secret may hold "_" too
    page.get_by_role("button", name=f"Revoke {prefix}").click()
    expect(page.get_by_test_id("confirm")).to_contain_text("refused from now on")
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.get_by_role("status")).to_contain_text(f"Revoked {prefix}")
    revoked = httpx.get(f"{console.url}/v1/whoami", headers={"Authorization": f"Bearer {shown}"})
    assert revoked.status_code == 401


def test_an_admin_creates_and_disables_a_user(console: Console, page: Any) -> None:
    sign_in(page, console.url, console.user(Scope.ADMIN))
    page.goto(f"{console.url}/keys")
    name = f"dana-{console.project.name}"
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password (8 characters or more)").fill("dana's long secret")
    page.get_by_label("Role").select_option("write")
    page.get_by_role("button", name="Create the user").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created user {name} (write)")
    row = page.locator("tr", has_text=name)
    row.get_by_role("button", name="Disable").click()
    expect(page.get_by_test_id("confirm")).to_contain_text("can no longer sign in")
    page.get_by_role("button", name=f"Disable {name}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Disabled user {name}")
