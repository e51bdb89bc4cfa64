"""The history report in a real browser against a real `robopass serve`.

Headless Chromium (Debian's, driven by Playwright; never a downloaded one).
Every figure the page shows is compared with what GraphQL answers the same
party for the same robot. A full-page screenshot of each test's last state is
saved under `test-artifacts/` (git-ignored).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from gateway.report.i18n import ZH
from gateway.report.session import COOKIE
from policies.authserver import issue_token
from tests.support.paths import ROOT

pytestmark = [pytest.mark.process, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
OWNER = "Zhulong Sales & Leasing Co., Ltd."
OWNER_ID = "uscc:913205066HF31Y0124"  # the fleet-owner client's org_id

FIGURES = """query ($code: RobotCode!) { robot(code: $code) {
  ownership { owner jurisdiction }
  condition { operatingHours batteryHealthPct }
  conditionHistory(last: 1000) { at batteryHealthPct movementPrecisionMm jointWear { wearPct } }
  maintenance { at kind }
  incidents { rootCause }
  compliance { recalls { reference remediedAt } }
} }"""
OWNED = """query ($owner: String!) { robots(filter: {ownerId: $owner}, first: 50) {
  edges { node { code conditionHistory(last: 1000) { at } incidents { id } } } } }"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed; .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser, request):
    ctx = browser.new_context(locale="en-GB", viewport={"width": 1100, "height": 900})
    yield ctx
    ARTIFACTS.mkdir(exist_ok=True)
    for index, page in enumerate(ctx.pages):
        page.screenshot(path=ARTIFACTS / f"{request.node.name}-{index}.png", full_page=True)
    ctx.close()


def graphql(base: str, query: str, variables: dict, token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def expected_figures(robot: dict) -> dict[str, str | None]:
    """The summary as GraphQL gives it: None where GraphQL denied the field."""
    ownership = robot["ownership"]
    condition = robot["condition"]
    maintenance = robot["maintenance"]
    incidents = robot["incidents"]
    recalls = robot["compliance"]["recalls"]
    inspections = [m["at"][:10] for m in maintenance or [] if m["kind"] == "INSPECTION"]
    causes = Counter(i["rootCause"] for i in incidents or [])
    return {
        "owners": str(len(ownership)),
        "current_owner": ownership[-1]["owner"] if ownership[-1]["owner"] else None,
        "countries": " ".join(dict.fromkeys(o["jurisdiction"] for o in ownership)),
        "operating_hours": str(condition["operatingHours"]) if condition else None,
        "maintenance_count": None if maintenance is None else str(len(maintenance)),
        "last_inspection": None if maintenance is None else max(inspections, default=""),
        "incidents": None if incidents is None else str(len(incidents)),
        "root_causes": None
        if incidents is None
        else " ".join(
            f"{c}:{n}" for c, n in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        "battery_health": str(condition["batteryHealthPct"]) if condition else None,
        "open_recalls": " ".join(r["reference"] for r in recalls if r["remediedAt"] is None),
    }


def page_figures(page) -> dict[str, str | None]:
    """The summary as the page shows it: None where it says Restricted."""
    found = {}
    for field in page.locator("#summary [data-field]").all():
        name = field.get_attribute("data-field")
        value = field.locator("dd")
        if value.locator(".restricted").count():
            assert value.inner_text().strip() == "Restricted"
            found[name] = None
        else:
            found[name] = value.get_attribute("data-value")
    return found


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""

    def luminance(css: str) -> float:
        channels = [int(v) / 255 for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    hi, lo = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def colours(page, selector: str) -> tuple[str, str]:
    return page.eval_on_selector(
        selector,
        """el => {
            let bg = 'rgba(0, 0, 0, 0)', node = el;
            while (node && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
                bg = getComputedStyle(node).backgroundColor; node = node.parentElement;
            }
            if (bg === 'rgba(0, 0, 0, 0)') bg = 'rgb(255, 255, 255)';
            return [getComputedStyle(el).color, bg];
        }""",
    )


def test_public_report_search_rules_language_print_and_access(served, context):
    page = context.new_page()
    page.goto(served + "/")
    code = page.locator(".examples a code").first.inner_text()

    wrong = code[:20] + ("1" if code[20] != "1" else "2") + code[21:]
    page.get_by_label("Robot code").fill(wrong)
    page.get_by_role("button", name="Look up").click()
    alert = page.get_by_role("alert")
    assert alert.get_attribute("data-rule") == "check"
    assert "Rule broken: check character" in alert.inner_text()
    page.get_by_label("Robot code").fill(code[:10])
    page.get_by_role("button", name="Look up").click()
    assert page.get_by_role("alert").get_attribute("data-rule") == "length"

    page.get_by_label("Robot code").fill(" " + code.lower()[:8] + " " + code.lower()[8:])
    page.get_by_role("button", name="Look up").click()
    assert page.url == f"{served}/robots/{code}"

    body = graphql(served, FIGURES, {"code": code})
    shown = page_figures(page)
    assert shown == expected_figures(body["data"]["robot"])
    assert shown["current_owner"] is None and shown["battery_health"] is None
    assert shown["countries"], "countries of ownership are public"
    for chart in ("battery", "wear", "precision"):
        assert page.locator(f'[data-chart="{chart}"] .restricted').count() == 1
        assert page.locator(f'[data-chart="{chart}"] svg').count() == 0
    assert "maintenance" in page.locator("[data-hidden]").get_attribute("data-hidden")
    assert page.locator("[data-verified]").get_attribute("data-verified") == "true"
    links = page.locator("#downloads a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    for fmt in ("canonical", "cn-miit", "aas", "untp-dpp"):
        assert f"/robots/{code}/export/{fmt}" in links
        assert f"/robots/{code}/export/{fmt}?signed=true" in links

    for role in ("banner", "main", "contentinfo"):
        assert page.get_by_role(role).count() == 1, role
    assert page.get_by_role("navigation").count() >= 1
    assert page.locator("h1").count() == 1 and page.locator("h2").count() >= 6
    for selector in ("body", "dt", ".restricted", "a", ".hint, .version"):
        if page.locator(selector).count():
            assert contrast(*colours(page, selector)) >= 4.5, selector

    page.emulate_media(media="print")
    assert page.locator(".who").is_hidden() and page.locator("#downloads").is_hidden()
    assert page.locator("#summary").is_visible()
    page.emulate_media(media="screen")

    page.get_by_role("link", name="中文").click()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_role("heading", name="概要").is_visible()
    assert page.locator("#summary .restricted").first.inner_text() == "受限"
    page.goto(served + "/")
    assert page.locator("html").get_attribute("lang") == "zh-Hans", "the choice is remembered"
    page.get_by_label("机器人编码").fill(wrong)
    page.get_by_role("button", name="查询").click()
    assert ZH["rule_broken"].format(rule=ZH["rule.check"]) in page.get_by_role("alert").inner_text()
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("alert").get_attribute("data-rule") == "check", "the query is kept"


def test_owner_signs_in_and_sees_what_graphql_gives_it(served, context, tmp_path):
    token = issue_token("fleet-owner", tmp_path / "data", f"{served}/auth")
    owned = graphql(served, OWNED, {"owner": OWNER_ID}, token)["data"]["robots"]["edges"]
    assert owned, "the demo fleet owner owns robots"
    richest = max(
        owned, key=lambda e: (bool(e["node"]["incidents"]), len(e["node"]["conditionHistory"]))
    )
    code = richest["node"]["code"]

    page = context.new_page()
    page.goto(f"{served}/robots/{code}")
    assert page_figures(page)["current_owner"] is None
    page.get_by_role("link", name="Sign in").click()
    page.locator('button[data-client="fleet-owner"]').click()
    assert page.url == f"{served}/robots/{code}"
    assert page.locator("[data-viewer]").get_attribute("data-viewer") == "fleet-owner"

    cookie = next(c for c in context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert COOKIE not in page.evaluate("document.cookie"), "no script can read the token"

    robot = graphql(served, FIGURES, {"code": code}, token)["data"]["robot"]
    shown = page_figures(page)
    assert shown == expected_figures(robot)
    assert shown["current_owner"] == OWNER
    hours = page.locator('[data-field="operating_hours"] dd').inner_text()
    assert hours == f"{robot['condition']['operatingHours']:,.1f} h"

    findings = page.locator('[data-kind="incident"] [data-restricted="incidents.findings"]')
    assert findings.count() == len(robot["incidents"]), "findings stay restricted for owners"

    history = robot["conditionHistory"]
    assert history
    for chart, series_count in (("battery", 1), ("wear", 2), ("precision", 1)):
        box = page.locator(f'[data-chart="{chart}"]')
        lines = box.locator("svg polyline")
        assert lines.count() == series_count
        for line in lines.all():
            assert line.get_attribute("data-count") == str(len(history))
            assert len(line.get_attribute("points").split()) == len(history)
        assert box.locator("table tbody tr").count() == len(history)
    battery = page.locator(
        '[data-chart="battery"] table tbody tr td:nth-child(2)'
    ).all_text_contents()
    assert [float(v) for v in battery] == [h["batteryHealthPct"] for h in history]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "owner-report.png", full_page=True)
    box = page.locator('[data-chart="battery"] svg').bounding_box()
    assert box and box["width"] > 200 and box["height"] > 50, "the chart is drawn"

    page.get_by_role("button", name="Sign out").click()
    assert page.locator("[data-viewer]").get_attribute("data-viewer") == "public"
    assert OWNER not in page.content()

    context.add_cookies([{"name": COOKIE, "value": token[:-8] + "AAAAAAAA", "url": served}])
    page.goto(f"{served}/robots/{code}")
    assert page.locator('[data-notice="session"]').is_visible()
    assert page.locator("[data-viewer]").get_attribute("data-viewer") == "public"
    page.reload()
    assert page.locator('[data-notice="session"]').count() == 0, "the bad cookie was dropped"
