// The desk's chart look (lightweight-charts options), shared by the performance and backtest pages.
export const chartBase = {
  autoSize: true,
  layout: { background: { type: "solid", color: "transparent" }, textColor: "#9aa4b2" },
  grid: { vertLines: { color: "#1c2230" }, horzLines: { color: "#1c2230" } },
  timeScale: { timeVisible: true, borderColor: "#2a3140" }, rightPriceScale: { borderColor: "#2a3140" },
};
