"""The report opens from a file:// URL in Debian's Chromium (no network, no server) and draws
every chart. A screenshot lands in var/screenshots/backtest_report.png."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from apps.strategies.models import BacktestRun
from tests.strategies.backtest_seed import command_output, market_seeded

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(settings.BASE_DIR) / "var" / "screenshots" / "backtest_report.png"

# Colours drawn on a chart's biggest canvas: a blank chart has one or two.
CANVAS_COLOURS = """(selector) => {
  const canvases = [...document.querySelectorAll(selector + ' canvas')];
  const canvas = canvases.sort((a, b) => b.width * b.height - a.width * a.height)[0];
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  for (let i = 0; i < pixels.length; i += 4 * 7) colours.add(pixels[i] << 16 | pixels[i + 1] << 8 | pixels[i + 2]);
  return colours.size;
}"""


def report_look(url: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors, requests = [], []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url)
        page.wait_for_selector("body[data-charts-ready=true]", timeout=15000)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        seen = {
            "errors": errors,
            "remote": [u for u in requests if not u.startswith(("file:", "data:", "blob:"))],
            "btc_colours": page.evaluate(CANVAS_COLOURS, "#candles-BTC-USDT"),
            "eth_colours": page.evaluate(CANVAS_COLOURS, "#candles-ETH-USDT"),
            "equity_colours": page.evaluate(CANVAS_COLOURS, "#equity-chart"),
            "heatmap_cells": page.locator("#monthly-heatmap td.month").count(),
            "filled_months": page.locator("#monthly-heatmap td.month:not(:empty)").count(),
            "trade_rows": page.locator("#trades tbody tr").count(),
            "summary": page.locator("#summary .metric").count(),
        }
        browser.close()
        return seen


def test_the_report_shows_candles_equity_heatmap_and_trades_offline(tmp_path):
    market_seeded()
    command_output(
        "backtest",
        "--no-progress",
        "--strategy",
        "rsi",
        "--symbol",
        "BTC/USDT",
        "--symbol",
        "ETH/USDT",
        "--stop-loss",
        "1",
        "--take-profit",
        "2",
        "--output",
        str(tmp_path),
    )
    run = BacktestRun.objects.get()
    with ThreadPoolExecutor(max_workers=1) as pool:  # Playwright's loop must not share Django's thread
        seen = pool.submit(report_look, (tmp_path / "report.html").as_uri()).result()
    assert seen["errors"] == [] and seen["remote"] == []
    assert min(seen["btc_colours"], seen["eth_colours"], seen["equity_colours"]) > 20
    assert seen["heatmap_cells"] == 12 and seen["filled_months"] == 1
    assert seen["trade_rows"] == run.metrics["trades"] > 0
    assert seen["summary"] == 15
    assert SCREENSHOT.stat().st_size > 50_000


DRAWDOWN_LABELS = """() => {
  const series = window.reportCharts.drawdown;
  const deepest = Math.min(...series.data().map((point) => point.value));
  const format = series.priceFormatter();
  return { deepest: format.format(deepest), samples: [format.format(-3.4), format.format(-0.5), format.format(-12.345)] };
}"""


@pytest.fixture
def drawdown_report(tmp_path):
    """Written before the browser starts: Playwright's loop must not be running while Django writes."""
    import json

    market_seeded(symbols=("BTC/USDT",))
    command_output(
        "backtest", "--no-progress", "--strategy", "rsi", "--symbol", "BTC/USDT", "--stop-loss", "1", "--output", str(tmp_path)
    )
    return tmp_path / "report.html", json.loads((tmp_path / "metrics.json").read_text())["metrics"]


def test_the_drawdown_pane_labels_the_deepest_fall_as_metrics_json_has_it(drawdown_report, chromium):
    report, metrics = drawdown_report
    deepest = metrics["max_drawdown_pct"]
    assert deepest > 0
    page = chromium.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    page.wait_for_selector("body[data-charts-ready=true]", timeout=15000)
    labels = page.evaluate(DRAWDOWN_LABELS)
    assert errors == []
    assert labels["deepest"] == f"{-deepest:.2f} %"
    assert labels["samples"] == ["-3.40 %", "-0.50 %", "-12.35 %"]
