// The market page: history from /api/markets/<id>/candles, live candles from /ws/events/.
// Prices arrive as exact decimal strings; they become numbers only to be drawn.
import * as live from "./live.js";

const LWC = window.LightweightCharts;
const cfg = JSON.parse(document.getElementById("market-config").textContent);

const COLORS = { up: "#26a69a", down: "#ef5350", text: "#9aa4b2", grid: "#1c2230", border: "#2a3140" };
const COLLECTOR_REFRESH_MS = 30000;

const el = (id) => document.getElementById(id);
const candles = new Map(); // time (s) -> {time, open, high, low, close, volume} as strings
let refetchTimer = null;

// --- Chart -----------------------------------------------------------------------------
const chart = LWC.createChart(el("chart"), {
  autoSize: true,
  layout: { background: { type: "solid", color: "transparent" }, textColor: COLORS.text, fontFamily: "Inter, system-ui, sans-serif" },
  grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
  rightPriceScale: { borderColor: COLORS.border },
  timeScale: { borderColor: COLORS.border, timeVisible: true, secondsVisible: false, rightOffset: 6 },
  crosshair: { mode: LWC.CrosshairMode.Normal },
  localization: { priceFormatter: (p) => p.toFixed(cfg.priceDecimals) },
});
const priceSeries = chart.addSeries(LWC.CandlestickSeries, {
  upColor: COLORS.up, downColor: COLORS.down, borderVisible: false,
  wickUpColor: COLORS.up, wickDownColor: COLORS.down,
  priceFormat: { type: "price", precision: cfg.priceDecimals, minMove: 10 ** -cfg.priceDecimals },
});
const volumeSeries = chart.addSeries(LWC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "volume", lastValueVisible: false, priceLineVisible: false });
chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
priceSeries.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.24 } });

const toBar = (c) => ({ time: c.time, open: +c.open, high: +c.high, low: +c.low, close: +c.close });
const toVolume = (c) => ({ time: c.time, value: +c.volume, color: +c.close >= +c.open ? "rgba(38,166,154,0.45)" : "rgba(239,83,80,0.45)" });
const sortedCandles = () => [...candles.values()].sort((a, b) => a.time - b.time);
const lastCandle = () => { let last = null; for (const c of candles.values()) if (!last || c.time > last.time) last = c; return last; };

function drawAll() {
  const rows = sortedCandles();
  priceSeries.setData(rows.map(toBar));
  volumeSeries.setData(rows.map(toVolume));
  renderQuote();
}

// Show the most recent ~150 bars (all of them when there are fewer), right edge live.
function viewRecent() {
  const count = candles.size;
  if (count === 0) return;
  if (count <= 150) { chart.timeScale().fitContent(); return; }
  chart.timeScale().setVisibleLogicalRange({ from: count - 150, to: count + 5 });
}

function candleUpsert(c) {
  const newest = lastCandle();
  candles.set(c.time, c);
  if (newest && c.time < newest.time) { drawAll(); return; } // an older bar changed: redraw
  priceSeries.update(toBar(c));
  volumeSeries.update(toVolume(c));
  renderQuote();
}

// --- Header: price, change, legend, counts ----------------------------------------------
function renderQuote() {
  const rows = sortedCandles();
  el("candle-count").textContent = String(rows.length);
  const last = rows.at(-1);
  if (!last) { el("last-price").textContent = "—"; el("last-change").textContent = ""; return; }
  el("last-price").textContent = (+last.close).toFixed(cfg.priceDecimals);
  const prev = rows.at(-2);
  if (prev) {
    const change = ((+last.close - +prev.close) / +prev.close) * 100;
    el("last-change").textContent = `${change >= 0 ? "+" : ""}${change.toFixed(2)}%`;
    el("last-change").className = `change mono ${change >= 0 ? "up" : "down"}`;
  }
  document.title = `${(+last.close).toFixed(cfg.priceDecimals)} ${cfg.symbol} ${cfg.timeframe} · tradedesk`;
  renderLegend(last);
  renderState();
}

function renderLegend(c) {
  if (!c) return;
  const f = (v) => (+v).toFixed(cfg.priceDecimals);
  const when = new Date(c.time * 1000).toISOString().slice(0, 16).replace("T", " ");
  const cls = +c.close >= +c.open ? "up" : "down";
  el("legend").innerHTML = `<span class="muted">${cfg.symbol} · ${cfg.timeframe} · ${when} UTC</span>
    <span>O <b class="${cls}">${f(c.open)}</b></span><span>H <b class="${cls}">${f(c.high)}</b></span>
    <span>L <b class="${cls}">${f(c.low)}</b></span><span>C <b class="${cls}">${f(c.close)}</b></span>
    <span>V <b>${(+c.volume).toLocaleString("en-US", { maximumFractionDigits: 4 })}</b></span>`;
}

chart.subscribeCrosshairMove((param) => {
  const c = param.time !== undefined ? candles.get(param.time) : null;
  renderLegend(c || lastCandle());
});

// --- Connection state: live / disconnected — reconnecting / data stale -------------------
function dataIsStale() {
  const last = lastCandle();
  if (!last) return true;
  const closedAt = last.time + cfg.periodSeconds;
  return Date.now() / 1000 - closedAt > 2 * cfg.periodSeconds;
}

function connectionState() {
  const socketState = live.state();
  if (socketState !== "live") return socketState;
  return dataIsStale() ? "stale" : "live";
}

function renderState() {
  const state = connectionState();
  const node = el("conn-state");
  node.dataset.state = state;
  let text = { live: "live", stale: "data stale", connecting: "connecting…" }[state];
  if (state === "disconnected") {
    const wait = live.reconnectIn();
    text = `disconnected — reconnecting${wait ? ` in ${wait}s` : "…"}`;
  }
  node.querySelector(".conn-text").textContent = text;
  node.title = state === "stale" ? `No new ${cfg.timeframe} candle for more than 2 periods` : "";
}

// --- History ------------------------------------------------------------------------------
async function historyLoad() {
  const response = await fetch(`${cfg.candlesUrl}?tf=${encodeURIComponent(cfg.timeframe)}&limit=500`, { credentials: "same-origin" });
  if (response.status === 401) { location.assign(`${cfg.loginUrl}?next=${encodeURIComponent(location.pathname + location.search)}`); return; }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `history failed (${response.status})`);
  const firstLoad = candles.size === 0;
  candles.clear();
  for (const c of body.candles) candles.set(c.time, c);
  live.since(body.last_event_id);
  el("last-event-id").textContent = String(live.eventId());
  drawAll();
  if (firstLoad) viewRecent();
  renderCollector(body.collector);
}

function historyRefetchSoon() {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(() => historyLoad().catch(console.error), 250);
}

async function collectorRefresh() {
  const response = await fetch(`${cfg.candlesUrl}?tf=${encodeURIComponent(cfg.timeframe)}&limit=1`, { credentials: "same-origin" });
  if (response.ok) renderCollector((await response.json()).collector);
}

function renderCollector(c) {
  const node = el("collector-state");
  if (!c) { node.textContent = "collector: not collecting this timeframe"; node.className = "muted small"; return; }
  const ago = (iso) => (iso ? `${Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))}s ago` : "never");
  if (!c.active) { node.textContent = "collector: paused"; node.className = "small warn"; return; }
  if (c.consecutive_errors > 0) {
    node.textContent = `collector: failing (${c.consecutive_errors}×) — ${c.last_error || "error"}`;
    node.className = "small down";
    return;
  }
  node.textContent = `collector: ${c.fresh ? "fresh" : "behind"} · last run ${ago(c.last_success_at)}`;
  node.className = `small ${c.fresh ? "muted" : "warn"}`;
}

// --- Live events ------------------------------------------------------------------------
function eventApply(msg) {
  el("last-event-id").textContent = String(live.eventId());
  const p = msg.payload || {};
  if (p.market !== cfg.symbol || p.timeframe !== cfg.timeframe) return;
  if (msg.kind === "candle.closed") {
    candleUpsert({ time: p.time, open: p.open, high: p.high, low: p.low, close: p.close, volume: p.volume });
  } else if (msg.kind === "candles.backfilled") {
    historyRefetchSoon();
  }
}

live.subscribe([cfg.topic], eventApply);
live.onResync((truncated) => { if (truncated) historyRefetchSoon(); }); // missed too much: reload history
live.onState(renderState);

// --- Controls and start -----------------------------------------------------------------
el("symbol-switcher").addEventListener("change", (event) => location.assign(event.target.value));
setInterval(renderState, 1000);
setInterval(() => collectorRefresh().catch(() => {}), COLLECTOR_REFRESH_MS);

window.tradedesk = Object.assign(window.tradedesk || {}, {
  candleCount: () => candles.size,
  connectionState,
  lastEventId: live.eventId,
  lastCandle,
});

// The socket starts once every script registered (desk.js); history comes in beside it: the
// candles endpoint reads its event cursor first, so nothing between the two is missed.
historyLoad().catch((error) => { el("collector-state").textContent = `could not load history: ${error.message}`; });
