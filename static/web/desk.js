// Every page: the live socket (live.js), the connection badge with the age of the last update,
// the banners and rows marked data-live refreshed from the server when an event of the page's
// topics arrives (no reload: the regions are re-rendered by the same view and swapped in, so a
// resent event never duplicates a row), and confirm dialogs for the action buttons.
import * as live from "./live.js";

const cfg = JSON.parse(document.getElementById("desk-live").textContent);
const REFRESH_DEBOUNCE_MS = 150;
const REFRESH_EVERY_MS = 30000; // freshness banners age without any event
let refreshTimer = null;
let refreshing = null;

const secondsAgo = (at) => Math.max(0, Math.round((Date.now() - at) / 1000));

function badgeRender() {
  const node = document.getElementById("live-state");
  if (!node) return;
  const state = live.state();
  node.dataset.state = state;
  node.title = "";
  let text = { live: "live", connecting: "connecting…" }[state];
  if (state === "disconnected") {
    text = `disconnected — data may be stale · last update ${secondsAgo(live.updatedAt())} s ago`;
    node.title = `reconnecting${live.reconnectIn() ? ` in ${live.reconnectIn()} s` : "…"}`;
  }
  node.querySelector(".conn-text").textContent = text;
}

async function regionsRefresh() {
  const response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Desk-Live": "1" } });
  if (response.redirected && response.url.includes(cfg.loginUrl)) { location.assign(response.url); return; }
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const region of document.querySelectorAll("[data-live][id]")) {
    const replacement = fresh.getElementById(region.id);
    if (replacement && replacement.innerHTML !== region.innerHTML) region.replaceWith(document.importNode(replacement, true));
  }
  live.touched();
  document.dispatchEvent(new CustomEvent("desk:refreshed"));
}

export function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refreshing = (refreshing || Promise.resolve()).then(regionsRefresh).catch((error) => console.warn("refresh:", error.message));
  }, REFRESH_DEBOUNCE_MS);
}

function flash(text, ok) {
  const node = document.getElementById("flash");
  node.innerHTML = "";
  const item = document.createElement("div");
  item.className = `flash-item ${ok ? "flash-ok" : "flash-bad"}`;
  item.setAttribute("role", "status");
  item.textContent = text;
  node.append(item);
}

// Action forms: <form method=post data-confirm="Close BTC/USDT?"> — confirmed, then posted
// without leaving the page; the answer is shown, the rows move with the events that follow.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (!form) return;
  event.preventDefault();
  if (!window.confirm(form.dataset.confirm)) return;
  for (const button of form.querySelectorAll("button")) button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin", headers: { Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({ message: `the desk answered ${response.status}` }));
    flash(body.message, response.ok);
  } catch (error) {
    flash(`could not reach the desk: ${error.message}`, false);
  } finally {
    for (const button of form.querySelectorAll("button")) button.disabled = false;
    refreshSoon();
  }
});

// A risk event (the kill switch among them) can change the banners: those are fetched alone at
// once (a small read), ahead of the whole page's refresh.
async function bannersRefresh() {
  const response = await fetch(cfg.bannersUrl, { credentials: "same-origin", headers: { "X-Desk-Live": "1" } });
  if (!response.ok || response.redirected) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("desk-banners");
  const current = document.getElementById("desk-banners");
  if (fresh && current && fresh.innerHTML !== current.innerHTML) current.replaceWith(document.importNode(fresh, true));
}

// A kill switch change carries its banner: drawn (or removed) at once, before any fetch.
function switchBannerDraw(payload) {
  const key = `switch-${payload.account ?? "global"}`;
  const box = document.getElementById("desk-banners");
  let node = box.querySelector(`[data-banner="${key}"]`);
  if (payload.state === "active") { node?.remove(); return; }
  if (!node) {
    node = document.createElement("div");
    node.dataset.banner = key;
    box.prepend(node);
  }
  const halted = payload.state === "halted";
  node.className = `banner banner-${halted ? "halted" : "reduce"}`;
  node.textContent = `${halted ? "■" : "▲"} ${payload.banner}`;
}

function onEvent(event) {
  if (event.kind === "kill_switch.changed") switchBannerDraw(event.payload);
  if (event.topic.startsWith("risk.")) {
    bannersRefresh().catch((error) => console.warn("banners:", error.message));
    if (isCritical(event)) alarm();
  }
  refreshSoon();
}

// --- Sound on critical risk events: per user (this browser), off until they switch it on ----
const SOUND_KEY = `tradedesk.sound.${cfg.user}`;
const soundOn = () => localStorage.getItem(SOUND_KEY) === "on";
const isCritical = (event) =>
  (event.kind === "kill_switch.changed" && event.payload.state === "halted") ||
  (event.kind === "risk.action_taken" && event.payload.rule !== "kill_switch");
let sound = null;

function alarm() {
  if (!soundOn()) return;
  sound = sound || new Audio(document.getElementById("sound-toggle").dataset.src);
  sound.currentTime = 0;
  sound.play().catch(() => {}); // a browser may refuse sound before the first click: silence, not an error
  window.tradedesk.alarms = (window.tradedesk.alarms || 0) + 1;
}

function soundToggleRender() {
  const button = document.getElementById("sound-toggle");
  if (!button) return;
  button.setAttribute("aria-pressed", String(soundOn()));
  button.textContent = soundOn() ? "♪ sound on" : "♪ sound off";
}

document.getElementById("sound-toggle")?.addEventListener("click", () => {
  localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
  soundToggleRender();
});
soundToggleRender();

live.subscribe(cfg.topics, onEvent);
live.onResync(() => { bannersRefresh().catch(() => {}); refreshSoon(); });
live.onState(badgeRender);
setInterval(badgeRender, 1000);
setInterval(refreshSoon, REFRESH_EVERY_MS);

window.tradedesk = Object.assign(window.tradedesk || {}, {
  liveState: live.state,
  liveEventId: live.eventId,
  refreshSoon,
});

// After every page script has registered its topics (module scripts run in order, before this).
document.addEventListener("DOMContentLoaded", () => live.start({ wsPath: cfg.wsPath, loginUrl: cfg.loginUrl }));
