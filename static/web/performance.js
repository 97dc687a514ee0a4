// Equity with its running peak, and the drawdown below it (figures computed on the server).
const LWC = window.LightweightCharts;
const series = JSON.parse(document.getElementById("performance-series").textContent);
const base = {
  autoSize: true,
  layout: { background: { type: "solid", color: "transparent" }, textColor: "#9aa4b2" },
  grid: { vertLines: { color: "#1c2230" }, horzLines: { color: "#1c2230" } },
  timeScale: { timeVisible: true, borderColor: "#2a3140" }, rightPriceScale: { borderColor: "#2a3140" },
};
const equity = LWC.createChart(document.getElementById("equity-chart"), base);
equity.addSeries(LWC.LineSeries, { color: "#4c8dff", lineWidth: 2 }).setData(series.equity);
equity.addSeries(LWC.LineSeries, { color: "#7f8a9c", lineWidth: 1, lineStyle: 2 }).setData(series.peak);
equity.timeScale().fitContent();
const drawdown = LWC.createChart(document.getElementById("drawdown-chart"), base);
drawdown.addSeries(LWC.AreaSeries, { lineColor: "#f0b429", topColor: "rgba(240,180,41,0.05)", bottomColor: "rgba(240,180,41,0.35)" })
  .setData(series.drawdown);
drawdown.timeScale().fitContent();
