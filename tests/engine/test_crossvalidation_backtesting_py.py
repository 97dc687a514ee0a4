"""Our engine against backtesting.py 0.6.6 on the same seeded random-walk candles.

What backtesting.py does (read in its source, backtesting/backtesting.py and lib.py), and how
we configure ours to model the same thing:
- Orders placed in Strategy.next() at candle i fill at candle i+1's open: our default
  fill_at="next_open".
- Commission is charged on each leg at trade price: `commission * size * price` at entry and at
  exit (Broker._open_trade / _close_trade). Ours: maker = taker = 0.001, no slippage.
- `self.buy()` sizes with size = 1 - float epsilon of the margin available, fee included:
  units = floor(cash / (price * (1 + commission))). FractionalBacktest trades units of
  1e-8 (one satoshi). Ours: percent_equity 1.0 (the fee is reserved the same way) and an
  amount step of 1e-8.
- A trade still open at the end stays open (finalize_trades=False); its equity is valued at the
  last close without an exit fee. Ours: close_at_end=False, and the equity curve is valued the
  same way (cash + position at the close).
- Indicators warm up: next() runs only from the candle after the slowest indicator's first
  value; our crossover of NaN EMAs is never true, which gives the same first signal.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import talib

from apps.engine.backtest import BacktestConfig, backtest
from apps.engine.fills import FeeSchedule, MarketRules
from apps.engine.sizing import Sizing
from tests.engine.backtest_support import ema_cross_signals, random_walk_candles

backtesting = pytest.importorskip("backtesting")
from backtesting import Strategy as PeerStrategy  # noqa: E402 - only once importorskip found the peer
from backtesting.lib import FractionalBacktest, crossover  # noqa: E402 - only once importorskip found the peer

FEE = 0.001
ALL_IN = 1.0  # backtesting.py buys with size=1 - float epsilon: the whole margin available


class PeerEmaCross(PeerStrategy):
    fast, slow = 12, 26
    shorts = False

    def init(self):
        self.ema_fast = self.I(talib.EMA, self.data.Close, self.fast)
        self.ema_slow = self.I(talib.EMA, self.data.Close, self.slow)

    def next(self):
        if crossover(self.ema_fast, self.ema_slow):
            self.position.close()
            self.buy()
        elif crossover(self.ema_slow, self.ema_fast):
            self.position.close()
            if self.shorts:
                self.sell()


class PeerEmaCrossLongShort(PeerEmaCross):
    shorts = True


def _peer_run(candles, strategy):
    frame = pd.DataFrame(
        {"Open": candles.open, "High": candles.high, "Low": candles.low, "Close": candles.close, "Volume": candles.volume},
        index=pd.to_datetime(candles.time, unit="ms"),
    )
    peer = FractionalBacktest(frame, strategy, cash=10_000, commission=FEE, fractional_unit=1e-8, finalize_trades=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peer.run()


def _ours(candles, *, shorts: bool):
    config = BacktestConfig(
        initial_balance=10_000,
        fees=FeeSchedule(maker=FEE, taker=FEE),
        sizing=Sizing("percent_equity", ALL_IN),
        precision={"BTC/USDT": MarketRules(amount_step=1e-8)},
        allow_short=shorts,
        close_at_end=False,
    )
    return backtest({"BTC/USDT": candles}, {"BTC/USDT": ema_cross_signals(candles, shorts=shorts)}, config)


@pytest.mark.parametrize("shorts, peer_strategy", [(False, PeerEmaCross), (True, PeerEmaCrossLongShort)])
@pytest.mark.parametrize("seed", [1, 2])
def test_it_trades_on_the_same_bars_and_ends_with_the_same_equity_as_backtesting_py(seed, shorts, peer_strategy):
    candles = random_walk_candles(3_000, seed=seed)
    peer = _peer_run(candles, peer_strategy)
    ours = _ours(candles, shorts=shorts)

    # backtesting.py lists closed trades only; the one still open shows in its equity.
    peer_trades = peer["_trades"].sort_values("EntryBar")
    closed = ours.trade_table
    assert len(peer_trades) > 50
    assert closed["entry_bar"].tolist() == peer_trades["EntryBar"].tolist()
    assert closed["exit_bar"].tolist() == peer_trades["ExitBar"].tolist()
    assert closed["side"].tolist() == np.sign(peer_trades["Size"]).astype(int).tolist()
    np.testing.assert_allclose(closed["quantity"], np.abs(peer_trades["Size"]), rtol=1e-6)
    np.testing.assert_allclose(closed["exit_price"], peer_trades["ExitPrice"], rtol=1e-9)
    assert ours.final_equity == pytest.approx(peer["Equity Final [$]"], rel=1e-5)
    np.testing.assert_allclose(ours.equity, peer["_equity_curve"]["Equity"].to_numpy(), rtol=1e-5)
