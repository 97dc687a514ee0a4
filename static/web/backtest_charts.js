// A run's equity curve, or two runs' returns (%) on one chart.
import { chartBase as base } from "./charts.js";

const LWC = window.LightweightCharts;

function chart(nodeId, lines) {
  const node = document.getElementById(nodeId);
  if (!node) return;
  const drawn = LWC.createChart(node, base);
  for (const { data, color, title } of lines) drawn.addSeries(LWC.LineSeries, { color, lineWidth: 2, title }).setData(data);
  drawn.timeScale().fitContent();
}

const run = document.getElementById("run-series");
if (run) chart("run-chart", [{ data: JSON.parse(run.textContent).equity, color: "#4c8dff", title: "equity" }]);
const compared = document.getElementById("compare-series");
if (compared) {
  const series = JSON.parse(compared.textContent);
  chart("compare-chart", [
    { data: series.a, color: "#4c8dff", title: "A %" },
    { data: series.b, color: "#f0b429", title: "B %" },
  ]);
}
