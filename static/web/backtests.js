// The backtests page: the launch form shows the chosen strategy kind's params only; jobs'
// progress bars move with the `backtest.progressed` events of the user's topic (desk.js
// re-renders the data-live regions on each event; here the bar moves at once from the event).
import * as live from "./live.js";

const cfg = JSON.parse(document.getElementById("desk-live").textContent);
const strategy = document.getElementById("launch-strategy");

function paramsShow() {
  if (!strategy) return;
  const chosen = strategy.value;
  for (const fieldset of document.querySelectorAll("fieldset[data-kind]")) fieldset.hidden = fieldset.dataset.kind !== chosen;
  const note = document.querySelector(".configured-note");
  if (note) note.hidden = !/^\d+$/.test(chosen);
}
strategy?.addEventListener("change", paramsShow);
paramsShow();

function jobShow(event) {
  const { job, status, progress } = event.payload;
  const node = document.getElementById(`job-${job}`);
  if (!node) return; // a new job: the region refresh brings it
  node.dataset.status = status;
  node.querySelector("progress").value = progress;
  node.querySelector(".job-percent").textContent = `${progress}%`;
}
live.subscribe(cfg.topics.filter((topic) => topic.startsWith("backtests.")), jobShow);

// Compare: exactly two ticked.
document.getElementById("compare-form")?.addEventListener("submit", (event) => {
  const ticked = document.querySelectorAll("#compare-form input[name=run]:checked").length;
  if (ticked !== 2) { event.preventDefault(); window.alert(`Tick exactly two runs to compare (${ticked} ticked).`); }
});
