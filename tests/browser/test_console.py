"""The console in a real browser, through the demo scenario: the promotion appears with its
lineage, the drift timeline shows the drift, replaying a dead letter works, and the pages fit
a phone. Each test saves its screenshot to docs/screenshots/."""

from __future__ import annotations

import re

import pytest
from driftloop_contracts import streams
from playwright.sync_api import Browser, Page, expect

from .conftest import SCREENSHOTS, Played

pytestmark = pytest.mark.e2e
RECORDS = streams.INGEST_RECORDS.name


def open_page(browser: Browser, width: int = 1280) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(10_000)
    return page


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_promotion_appears_with_the_gate_decision_and_lineage(
    browser: Browser, played: Played
) -> None:
    page = open_page(browser)
    page.goto(played.url)
    card = page.locator('article[data-dataset="demo"]')
    expect(card.locator(".champion")).to_have_text("v1")
    expect(card).to_contain_text(re.compile(r"(data|prediction|performance) on v1"))
    shot(page, "console-datasets")

    card.get_by_role("link", name="demo").click()
    version = page.locator("#v1")
    expect(version.locator(".badge")).to_have_text("champion")
    expect(version.locator(".decision")).to_contain_text("gate: promote")
    chain = version.locator("ol.chain li")
    expect(chain.first).to_contain_text("training run (initial)")
    expect(chain.last).to_contain_text("promoted (gate)")
    shot(page, "console-dataset")
    page.close()


def test_the_drift_timeline_shows_the_drift(browser: Browser, played: Played) -> None:
    page = open_page(browser)
    page.goto(f"{played.url}/drift/demo")
    expect(page.locator("tr.drift-event").first).to_contain_text("v1")
    expect(page.locator("#p-values svg")).to_be_visible()
    expect(page.locator("#accuracy svg")).to_contain_text("v1 promoted")
    report = page.locator("tr.drift-event a").first.get_attribute("href") or ""
    assert report.startswith(played.stack.url("drift-monitor")), "the link is for this port"
    shot(page, "console-drift")
    page.close()


def test_replaying_a_dead_letter_puts_it_back_on_its_stream(
    browser: Browser, played: Played
) -> None:
    page = open_page(browser)
    page.goto(f"{played.url}/token")
    page.get_by_label("token").fill(played.stack.admin_token)
    page.get_by_role("button", name="keep it").click()
    expect(page.locator(".notice")).to_contain_text("admin token kept")

    page.goto(f"{played.url}/dead-letters")
    letter = page.locator(f'article[data-entry="{played.dead_letter}"]')
    expect(letter).to_contain_text("records")
    shot(page, "console-dead-letters")
    letter.get_by_role("button", name="replay").click()

    expect(page.locator(".notice")).to_contain_text(f"replayed {played.dead_letter}")
    notice = page.locator(".notice").inner_text()
    new_id = re.search(r"as (\d+-\d+)", notice)
    assert new_id, notice
    expect(page.locator(f'article[data-entry="{played.dead_letter}"]')).to_have_count(0)
    page.goto(f"{played.url}/events?stream={RECORDS}")
    expect(page.locator("#rows")).to_contain_text(new_id.group(1))
    page.close()


def test_the_event_tail_shows_new_entries_without_a_reload(
    browser: Browser, played: Played
) -> None:
    page = open_page(browser)
    page.goto(f"{played.url}/events?stream={RECORDS}")
    with played.stack.connect("admin") as redis:
        entry = redis.xadd(f"{played.stack.namespace}{RECORDS}", {b"__data__": b"{}"})
    expect(page.locator("#rows")).to_contain_text(entry.decode())  # polled every 2 s
    expect(page.locator("#live")).to_have_text("live")
    shot(page, "console-events")
    page.close()


def test_the_console_fits_a_phone(browser: Browser, played: Played) -> None:
    page = open_page(browser, width=390)
    for path in ("/", "/drift/demo"):
        page.goto(f"{played.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390, f"{path} is {overflow} px wide on a 390 px screen"
    shot(page, "console-phone-drift")
    page.goto(played.url)
    shot(page, "console-phone")
    page.close()
