// The strategy page's chart: its first market's candles, a marker per signal (entry, exit, stop,
// target; a refused one hollow), the held position's stop and target as lines. Clicking a marker's
// candle shows that signal's indicator values. New candles arrive live; markers follow the page's
// live refresh (desk.js re-renders the config region on each event of the strategy's topics).
import * as live from "./live.js";

const LWC = window.LightweightCharts;
const COLORS = { up: "#26a69a", down: "#ef5350", warn: "#f0b429", text: "#9aa4b2", grid: "#1c2230", border: "#2a3140", muted: "#6b7280" };
const SHAPES = {
  entry: { shape: "arrowUp", position: "belowBar", color: COLORS.up, label: "▲ entry" },
  exit: { shape: "arrowDown", position: "aboveBar", color: COLORS.down, label: "▼ exit" },
  stop: { shape: "square", position: "aboveBar", color: COLORS.warn, label: "■ stop" },
  target: { shape: "circle", position: "aboveBar", color: COLORS.up, label: "◆ target" },
};

let cfg = JSON.parse(document.getElementById("strategy-chart-config").textContent);
const el = (id) => document.getElementById(id);
const chart = LWC.createChart(el("strategy-chart"), {
  autoSize: true,
  layout: { background: { type: "solid", color: "transparent" }, textColor: COLORS.text, fontFamily: "Inter, system-ui, sans-serif" },
  grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
  rightPriceScale: { borderColor: COLORS.border },
  timeScale: { borderColor: COLORS.border, timeVisible: true, secondsVisible: false, rightOffset: 4 },
  localization: { priceFormatter: (p) => p.toFixed(cfg.priceDecimals) },
});
const series = chart.addSeries(LWC.CandlestickSeries, {
  upColor: COLORS.up, downColor: COLORS.down, borderVisible: false, wickUpColor: COLORS.up, wickDownColor: COLORS.down,
  priceFormat: { type: "price", precision: cfg.priceDecimals, minMove: 10 ** -cfg.priceDecimals },
});
const markers = LWC.createSeriesMarkers(series, []);
let levelLines = [];
const bars = new Map();

// A marker sits on a drawn candle: a hand close made mid-candle goes on the newest one before it.
function barTime(time) {
  if (bars.has(time)) return time;
  let best = null;
  for (const t of bars.keys()) if (t <= time && (best === null || t > best)) best = t;
  return best ?? time;
}

function markersDraw() {
  const drawn = cfg.markers.map((m) => {
    const look = SHAPES[m.kind];
    const refused = m.status === "rejected";
    m.drawnAt = barTime(m.time);
    return {
      time: m.drawnAt, shape: look.shape, position: look.position, id: String(m.id),
      color: refused ? COLORS.muted : look.color, text: refused ? `${look.label} ✕` : look.label,
    };
  });
  markers.setMarkers(drawn.sort((a, b) => a.time - b.time));
  for (const line of levelLines) series.removePriceLine(line);
  levelLines = [];
  for (const [name, color] of [["stop", COLORS.warn], ["target", COLORS.up]]) {
    const price = cfg.levels[name];
    if (price) levelLines.push(series.createPriceLine({ price: Number(price), color, lineStyle: 2, title: name, axisLabelVisible: true }));
  }
  window.tradedesk.chartMarkers = drawn.length;
}

function detailShow(found) {
  const box = el("marker-detail");
  box.replaceChildren();
  if (!found.length) { box.innerHTML = '<span class="muted">No signal on that candle.</span>'; return; }
  for (const m of found) {
    const block = document.createElement("div");
    block.className = "marker-block";
    block.dataset.signal = m.id;
    const head = document.createElement("div");
    head.innerHTML = `<b></b> <span class="mono"></span> <span class="muted"></span>`;
    head.children[0].textContent = `${SHAPES[m.kind].label} · ${m.side} · ${m.status}`;
    head.children[1].textContent = `@ ${m.price}`;
    head.children[2].textContent = m.reason || "";
    const table = document.createElement("dl");
    table.className = "params mono small";
    const entries = Object.entries(m.indicators);
    if (!entries.length) entries.push(["indicators", "none recorded"]);
    for (const [name, value] of entries) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = typeof value === "number" ? String(Math.round(value * 1e6) / 1e6) : String(value);
      table.append(dt, dd);
    }
    block.append(head, table);
    box.append(block);
  }
}

export function markerSelect(time) {
  detailShow(cfg.markers.filter((m) => (m.drawnAt ?? m.time) === time));
}

// The keyboard's way to the same detail: a "why?" button on each signal's row.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-signal-detail]");
  if (!button) return;
  detailShow(cfg.markers.filter((m) => String(m.id) === button.dataset.signalDetail));
  el("marker-detail").scrollIntoView({ block: "nearest" });
});

chart.subscribeClick((param) => { if (param.time !== undefined) markerSelect(param.time); });

const bar = (c) => ({ time: c.time, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) });

async function candlesLoad() {
  const response = await fetch(cfg.candlesUrl, { credentials: "same-origin" });
  if (!response.ok) return;
  const body = await response.json();
  live.since(body.last_event_id);
  for (const c of body.candles) bars.set(c.time, bar(c));
  series.setData([...bars.values()].sort((a, b) => a.time - b.time));
  markersDraw();
}

live.subscribe([cfg.topic], (event) => {
  if (event.kind !== "candle.closed") { candlesLoad(); return; }
  const c = bar(event.payload);
  bars.set(c.time, c);
  series.update(c);
});
live.onResync(candlesLoad);
// The markers region is re-rendered by the page's live refresh: read the new config from it.
document.addEventListener("desk:refreshed", () => {
  const node = document.getElementById("strategy-chart-config");
  if (!node) return;
  cfg = JSON.parse(node.textContent);
  markersDraw();
});

// Where a candle is drawn, relative to the chart's box (for a test's mouse, or a keyboard helper).
function candlePoint(time) {
  const x = chart.timeScale().timeToCoordinate(time);
  const candle = bars.get(time);
  return x === null || !candle ? null : { x, y: series.priceToCoordinate(candle.close) };
}

window.tradedesk = Object.assign(window.tradedesk || {}, { markerSelect, candlePoint, chartMarkers: 0 });
candlesLoad();
