// One live connection per page to /ws/events/, shared by every script on it (an ES module is
// loaded once, so every importer gets this same socket).
//
//   live.subscribe(["orders.3"], (event) => ...)   events of those topics, in order
//   live.onResync((truncated) => ...)               after a reconnect (missed events were resent
//                                                   first; truncated: too many, reload instead)
//   live.onState((state) => ...)                    connecting | live | disconnected
//   live.since(id)                                  history read up to this event id
//   live.start({ wsPath, loginUrl })
//
// Heartbeat: a socket can die without a close event (sleep, a proxy or NAT drops it), and the
// page would show "live" forever. It pings every PING_EVERY_MS; a desk silent (no pong, no
// event) for SILENCE_LIMIT_MS is treated as gone: a dead socket is noticed within 26 s (the last
// pong up to 5 s before it died, 20 s of silence, a 1 s check), then reconnect + resync.
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 15000;
const PING_EVERY_MS = 5000;
const SILENCE_LIMIT_MS = 20000;

const topics = new Set();
const listeners = [];
const resyncListeners = [];
const stateListeners = [];
let options = null;
let socket = null;
let socketState = "connecting";
let everSubscribed = false;
let lastEventId = null; // null: no cursor yet (live from now); 0 is a cursor (the outbox was empty)
let lastUpdateAt = Date.now(); // the page's data is as of its load
let lastHeardAt = 0;
let reconnectAttempts = 0;
let reconnectAt = null;

export function subscribe(names, handler) {
  for (const name of names) topics.add(name);
  listeners.push({ topics: new Set(names), handler });
  if (socket && socket.readyState === WebSocket.OPEN) subscribeSend();
}

export const onResync = (handler) => resyncListeners.push(handler);
export const onState = (handler) => stateListeners.push(handler);
export const since = (id) => { if (Number.isInteger(id)) lastEventId = Math.max(lastEventId ?? 0, id); };
export const state = () => socketState;
export const eventId = () => lastEventId ?? 0;
export const updatedAt = () => lastUpdateAt;
export const touched = () => { lastUpdateAt = Date.now(); };
export const reconnectIn = () => (reconnectAt ? Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000)) : 0);

function stateSet(next) {
  socketState = next;
  for (const handler of stateListeners) handler(next);
}

function subscribeSend() {
  socket.send(JSON.stringify({ subscribe: [...topics], since: lastEventId }));
}

function toLogin() {
  location.assign(`${options.loginUrl}?next=${encodeURIComponent(location.pathname + location.search)}`);
}

function open() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}${options.wsPath}`);
  stateSet("connecting");
  lastHeardAt = Date.now(); // a connect that hangs counts as silence too
  socket.onopen = () => { if (topics.size) subscribeSend(); };
  socket.onmessage = (message) => {
    lastHeardAt = Date.now();
    const msg = JSON.parse(message.data);
    if (msg.type === "pong") return;
    if (msg.type === "subscribed") {
      reconnectAttempts = 0;
      since(msg.last_id);
      const again = everSubscribed;
      everSubscribed = true;
      lastUpdateAt = Date.now();
      stateSet("live");
      if (again || msg.resync_truncated) for (const handler of resyncListeners) handler(Boolean(msg.resync_truncated));
    } else if (msg.type === "error") {
      console.warn("tradedesk socket:", msg.message);
    } else if (msg.id) {
      if (lastEventId !== null && msg.id <= lastEventId) return; // already applied (a resync can overlap)
      lastEventId = msg.id;
      lastUpdateAt = Date.now();
      for (const listener of listeners) if (listener.topics.has(msg.topic)) listener.handler(msg);
    }
  };
  socket.onclose = closed;
}

function closed(event) {
  socket = null;
  if (event.code === 4401) { toLogin(); return; }
  const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** reconnectAttempts) * (0.8 + Math.random() * 0.4);
  reconnectAttempts += 1;
  reconnectAt = Date.now() + delay;
  stateSet("disconnected");
  setTimeout(() => { reconnectAt = null; open(); }, delay); // resyncs from lastEventId
}

function ping() {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
}

function silenceWatch() {
  if (!socket || Date.now() - lastHeardAt <= SILENCE_LIMIT_MS) return;
  // Do not wait for the browser's close event: a dead TCP connection can take minutes to fail.
  const dead = socket;
  dead.onopen = dead.onmessage = dead.onclose = null;
  dead.close();
  closed({ code: 1006 });
}

export function start(config) {
  if (options) return; // one socket per page
  options = config;
  setInterval(ping, PING_EVERY_MS);
  setInterval(silenceWatch, 1000);
  open();
}
