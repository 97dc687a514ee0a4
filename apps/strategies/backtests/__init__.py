"""Backtests and research data on the Django side: load stored candles as engine arrays, run the
pure engine, store a BacktestRun and write its report (the engine itself never sees Django)."""
