"""The head-office console in a real browser: Debian's headless Chromium driven by selenium (the packaged
chromedriver) against the local stack (`python -m tools.localstack`, DynamoDB Local): log in as head office, the
overview's figures are the API's, the bought-together page drafts a combo-gift promotion, the staff page creates a
clerk and resets their password, and a screenshot of the overview is written to build/console-overview.png.

This tier fails (never skips) when Chromium or chromedriver is missing: `make test-browser` installs them."""

from __future__ import annotations

import shutil
import time
import uuid

import pytest

from tests.integration.test_localstack import ROOT, Stack, call
from tools.seed import DEMO_PASSWORDS, STORES

SCREENSHOT = ROOT / "build" / "console-overview.png"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


@pytest.fixture
def stack(tmp_path):
    assert (ROOT / "web" / "vendor" / "echarts.min.js").is_file(), "run `make web` first (ECharts from npm)"
    # no demo history: its events are still being taken in while the test compares the page with the API
    s = Stack(tmp_path / "state", env={"LOCAL_HISTORY_MEMBERS": "0"})
    s.start(timeout=300)  # a loaded 2-core box can take minutes (DynamoDB Local's start, the seed)
    yield s
    s.kill()


@pytest.fixture
def browser(tmp_path):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.fail(f"{path} is missing: apt-get install -y chromium chromium-driver (make test-browser does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def login(base: str, username: str, password: str) -> str:
    status, body = call(base, "POST", "/auth/staff/login", {"username": username, "password": password})
    assert status == 200, body
    return body["token"]


def sell(base: str, hq: str) -> list[dict]:
    """Stock into two stores, then three till sales there (two products each: a bought-together pair)."""
    stores = {s["name"]: s["store_id"] for s in call(base, "GET", "/admin/stores?limit=50", token=hq)[1]["items"]}
    products = call(base, "GET", "/admin/products?status=on_sale&limit=50", token=hq)[1]["items"]
    skus = [p["sku"] for p in products if not p.get("consult_only")][:3]
    sales = []
    for seed_store, lines in (
        (STORES[0], [skus[0], skus[1]]),
        (STORES[0], [skus[0], skus[1]]),
        (STORES[1], [skus[0], skus[2]]),
    ):
        store_id = stores[seed_store.name]
        receipt = {"lines": [{"sku": s, "qty": 5} for s in skus]}
        assert (
            call(base, "POST", f"/admin/stores/{store_id}/stock/receipts", receipt, token=hq, key=str(uuid.uuid4()))[0]
            == 201
        )
        clerk = login(base, f"{seed_store.code}.clerk", DEMO_PASSWORDS["clerk"])
        body = {"lines": [{"sku": s, "qty": 1} for s in lines], "payment": {"method": "cash"}}
        status, sale = call(base, "POST", "/pos/sales", body, token=clerk, key=str(uuid.uuid4()))
        assert status == 201, sale
        sales.append(sale)
    return sales


def wait_for(fn, timeout: float = 60, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_console_overview_matches_the_api_and_drafts_a_combo_gift(stack, browser):
    from selenium.webdriver.common.by import By

    base = stack.base
    hq = login(base, "hq.admin", DEMO_PASSWORDS["hq_admin"])
    sales = sell(base, hq)

    def today():
        from datetime import datetime
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()

    def report():
        d = today()
        r = call(base, "GET", f"/admin/reports/sales?from={d}&to={d}&group_by=store", token=hq)[1]
        return r if r["total"]["orders"] == len(sales) else None

    api = wait_for(report, what="the reports to count the sales (events through the local worker)")
    browser.get(base + "/admin/ui/")
    browser.find_element(By.ID, "username").send_keys("hq.admin")
    browser.find_element(By.ID, "password").send_keys(DEMO_PASSWORDS["hq_admin"])
    browser.find_element(By.ID, "login-button").click()
    wait_for(lambda: browser.find_element(By.ID, "page").get_attribute("data-ready") == "overview", what="overview")
    assert browser.find_element(By.ID, "today-sales").text == yuan(api["total"]["sales_fen"])
    assert browser.find_element(By.ID, "today-orders").text == str(len(sales))
    for row in api["items"]:
        for fig in ("sales_fen", "margin_fen"):
            cell = browser.find_element(
                By.CSS_SELECTOR, f'td[data-store="{row["store_id"]}"][data-range="today"][data-figure="{fig}"]'
            )
            assert (cell.get_attribute("data-fen"), cell.text) == (str(row[fig]), yuan(row[fig]))
    stock = call(base, "GET", "/admin/reports/stock", token=hq)[1]["items"]
    for s in stock:
        cell = browser.find_element(By.CSS_SELECTOR, f'td[data-store="{s["store_id"]}"][data-figure="stock_value_fen"]')
        assert cell.text == yuan(s["stock_value_fen"])
    assert browser.find_elements(By.CSS_SELECTOR, "#sales-chart canvas"), "ECharts drew the sales chart"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000

    browser.get(base + "/admin/ui/#/pairs")
    wait_for(lambda: browser.find_element(By.ID, "page").get_attribute("data-ready") == "pairs", what="pairs page")
    buttons = browser.find_elements(By.CSS_SELECTOR, "#pairs-table button.combo")
    assert buttons, "the pairs of the sales are listed"
    buttons[0].click()
    msg = browser.find_element(By.ID, "pair-msg")
    promo_id = wait_for(lambda: msg.get_attribute("data-promo-id"), timeout=20, what="the drafted promotion")
    status, promo = call(base, "GET", f"/admin/promotions/{promo_id}", token=hq)
    assert status == 200 and promo["status"] == "paused" and promo["kind"] == "combo_gift"

    browser.get(base + "/admin/ui/#/products")
    wait_for(lambda: browser.find_element(By.ID, "page").get_attribute("data-ready") == "products", what="products")
    d = today()
    best = call(base, "GET", f"/admin/reports/products?from={d}&to={d}&order=best&limit=50", token=hq)[1]["items"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#products-table tr[data-sku]")
    assert [r.get_attribute("data-sku") for r in rows][: len(best)] == [p["sku"] for p in best]

    # the other pages load without an error: orders (the three sales), stock, printers (one per demo store), staff
    for page, table in (
        ("orders", "orders-table"),
        ("stock", "low-stock"),
        ("printers", "printers-table"),
        ("staff", "staff-table"),
    ):
        browser.get(base + f"/admin/ui/#/{page}")
        wait_for(lambda p=page: browser.find_element(By.ID, "page").get_attribute("data-ready") == p, what=page)
        assert not browser.find_elements(By.CSS_SELECTOR, "#page .error"), browser.find_element(By.ID, "page").text
        rows = browser.find_elements(By.CSS_SELECTOR, f"#{table} tr")
        if page == "orders":
            listed = {r.find_elements(By.TAG_NAME, "td")[0].text for r in rows[1:]}
            assert {s["order_id"] for s in sales} <= listed
        if page in ("printers", "staff"):
            assert len(rows) > len(STORES)

    staff_page_creates_a_clerk_and_resets_the_password(browser, base, hq)


def staff_page_creates_a_clerk_and_resets_the_password(browser, base: str, hq: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    stores = {s["name"]: s["store_id"] for s in call(base, "GET", "/admin/stores?limit=50", token=hq)[1]["items"]}
    store_id = stores[STORES[1].name]
    username, first, second = f"ui.clerk.{uuid.uuid4().hex[:6]}", "first-pass-2026", "second-pass-2026"
    browser.get(base + "/admin/ui/#/staff")
    wait_for(lambda: browser.find_element(By.ID, "page").get_attribute("data-ready") == "staff", what="staff page")
    browser.find_element(By.ID, "new-username").send_keys(username)
    browser.find_element(By.ID, "new-name").send_keys("测试店员")
    Select(browser.find_element(By.ID, "new-role")).select_by_value("clerk")
    Select(browser.find_element(By.ID, "new-store")).select_by_value(store_id)
    browser.find_element(By.ID, "new-password").send_keys(first)
    browser.find_element(By.CSS_SELECTOR, "#staff-create button[type=submit]").click()
    wait_for(lambda: "已创建" in browser.find_element(By.ID, "staff-msg").text, timeout=20, what="the new clerk")
    status, me = call(base, "POST", "/auth/staff/login", {"username": username, "password": first})
    assert status == 200 and me["staff"]["role"] == "clerk" and me["staff"]["store_id"] == store_id, me

    browser.find_element(By.CSS_SELECTOR, f'tr[data-username="{username}"] button.reset').click()
    browser.find_element(By.ID, "reset-password").send_keys(second)
    browser.find_element(By.CSS_SELECTOR, "#staff-password button[type=submit]").click()
    wait_for(lambda: "已重置" in browser.find_element(By.ID, "staff-msg").text, timeout=20, what="the reset")
    assert call(base, "POST", "/auth/staff/login", {"username": username, "password": first})[0] == 401
    assert call(base, "POST", "/auth/staff/login", {"username": username, "password": second})[0] == 200
    assert call(base, "GET", "/pos/orders", token=me["token"])[0] == 401  # the old token ended too

    log = call(base, "GET", "/admin/audit-log?action=staff_change&limit=50", token=hq)[1]["items"]
    mine = [e for e in log if e["path"] in ("/admin/staff", "/admin/staff/{username}/password")]
    assert {(e["path"], e["body"]["password"]) for e in mine if e["body"].get("username", username) == username} == {
        ("/admin/staff", "***"),
        ("/admin/staff/{username}/password", "***"),
    }
