// A run's equity curve, or two runs' returns (%) on one chart.
const LWC = window.LightweightCharts;
const base = {
  autoSize: true,
  layout: { background: { type: "solid", color: "transparent" }, textColor: "#9aa4b2" },
  grid: { vertLines: { color: "#1c2230" }, horzLines: { color: "#1c2230" } },
  timeScale: { timeVisible: true, borderColor: "#2a3140" }, rightPriceScale: { borderColor: "#2a3140" },
};

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
