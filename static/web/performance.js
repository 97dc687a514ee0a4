// Equity with its running peak, and the drawdown below it (figures computed on the server).
// Live: desk.js re-renders the page's data-live regions on each event of the user's accounts
// (a new portfolio snapshot, a fill); the charts then take the fresh series from them.
import { chartBase as base } from "./charts.js";

const LWC = window.LightweightCharts;
const equityChart = LWC.createChart(document.getElementById("equity-chart"), base);
const equity = equityChart.addSeries(LWC.LineSeries, { color: "#4c8dff", lineWidth: 2, title: "equity" });
const peak = equityChart.addSeries(LWC.LineSeries, { color: "#7f8a9c", lineWidth: 1, lineStyle: 2, title: "peak" });
const drawdownChart = LWC.createChart(document.getElementById("drawdown-chart"), base);
const drawdown = drawdownChart.addSeries(LWC.AreaSeries, {
  lineColor: "#f0b429", topColor: "rgba(240,180,41,0.05)", bottomColor: "rgba(240,180,41,0.35)", title: "drawdown %",
});
let shown = "";

function draw() {
  const node = document.getElementById("performance-series");
  if (!node || node.textContent === shown) return;
  shown = node.textContent;
  const series = JSON.parse(shown);
  equity.setData(series.equity);
  peak.setData(series.peak);
  drawdown.setData(series.drawdown);
  equityChart.timeScale().fitContent();
  drawdownChart.timeScale().fitContent();
}

draw();
document.addEventListener("desk:refreshed", draw);
