"""The strategy registry and params validation: broken strategies and bad params get clear errors."""

import numpy as np
import pytest

from apps.engine.strategies.base import (
    InvalidParamsError,
    Param,
    SignalArrays,
    Strategy,
    StrategyContractError,
)
from apps.engine.strategies.registry import (
    UnknownStrategyError,
    strategy_build,
    strategy_classes,
    strategy_get,
    strategy_register,
    strategy_schemas,
)

EXPECTED_NAMES = {
    "rsi",
    "rules",
    "grid",
    "macd",
    "bollinger",
    "ema_cross",
    "sma_cross",
    "vwap_reversion",
    "volume_profile",
    "donchian",
    "mtf_trend",
}


class Valid(Strategy):
    name = "valid"
    params_schema = (Param("fast", int, 5, min=2), Param("slow", int, 10, min=3))

    @classmethod
    def cross_check(cls, values):
        return {} if values["fast"] < values["slow"] else {"fast": "must be less than slow"}

    @property
    def warmup_period(self):
        return self.params["slow"]

    def signals(self, candles):
        flags = np.zeros(len(candles), dtype=bool)
        return SignalArrays(flags, flags, flags, flags)


def register(cls):
    strategy_register(cls, registry={})


def test_every_strategy_module_is_registered_by_name():
    assert set(strategy_classes()) == EXPECTED_NAMES


def test_a_valid_strategy_is_registered_under_its_name():
    registry = {}
    strategy_register(Valid, registry=registry)
    assert registry == {"valid": Valid}


def test_it_refuses_a_strategy_without_a_name():
    class Nameless(Valid):
        pass

    with pytest.raises(StrategyContractError, match="Nameless has no `name` of its own"):
        register(Nameless)


def test_it_refuses_a_name_a_trader_could_not_type():
    class Spaced(Valid):
        name = "My Strategy"

    with pytest.raises(StrategyContractError, match="name must be lowercase letters"):
        register(Spaced)


def test_it_refuses_a_second_strategy_with_the_same_name():
    class Again(Valid):
        name = "valid"

    registry = {}
    strategy_register(Valid, registry=registry)
    with pytest.raises(StrategyContractError, match="name 'valid' is already used by .*Valid"):
        strategy_register(Again, registry=registry)


def test_it_refuses_a_default_outside_its_own_range():
    class BadDefault(Valid):
        name = "bad_default"
        params_schema = (Param("fast", int, 1, min=2), Param("slow", int, 10))

    with pytest.raises(StrategyContractError, match="default of 'fast' must be at least 2, got 1"):
        register(BadDefault)


def test_it_refuses_a_default_of_the_wrong_type():
    class WrongType(Valid):
        name = "wrong_type"
        params_schema = (Param("fast", int, "5"), Param("slow", int, 10))

    with pytest.raises(StrategyContractError, match="default of 'fast' is a str, the schema says int"):
        register(WrongType)


def test_it_refuses_defaults_that_fail_the_strategys_own_cross_check():
    class Crossed(Valid):
        name = "crossed"
        params_schema = (Param("fast", int, 20), Param("slow", int, 10))

    with pytest.raises(StrategyContractError, match="default params fail its own checks: fast: must be less than slow"):
        register(Crossed)


@pytest.mark.parametrize("warmup", [0, -3, 2.5, True, None])
def test_it_refuses_a_warmup_period_that_is_not_a_positive_whole_number(warmup):
    class BadWarmup(Valid):
        name = "bad_warmup"

        @property
        def warmup_period(self):
            return warmup

    with pytest.raises(StrategyContractError, match="warmup_period must be a positive whole number"):
        register(BadWarmup)


def test_it_refuses_a_strategy_that_does_not_implement_signals():
    class NoSignals(Strategy):
        name = "no_signals"

        @property
        def warmup_period(self):
            return 1

    with pytest.raises(StrategyContractError, match="NoSignals does not implement signals"):
        register(NoSignals)


def test_it_refuses_a_strategy_that_crashes_with_its_defaults():
    class Crashing(Valid):
        name = "crashing"

        @property
        def warmup_period(self):
            raise KeyError("period")

    with pytest.raises(StrategyContractError, match="Crashing fails with its default params: KeyError"):
        register(Crashing)


def test_an_unknown_strategy_name_lists_the_known_ones():
    with pytest.raises(UnknownStrategyError) as error:
        strategy_get("rsii")
    assert "unknown strategy 'rsii'; known strategies: bollinger, donchian, ema_cross" in str(error.value)


def test_build_fills_in_defaults_and_coerces_form_strings():
    strategy = strategy_build("ema_cross", {"fast": "5", "allow_short": "true"})
    assert strategy.params == {"fast": 5, "slow": 21, "allow_short": True}


def test_a_param_out_of_range_is_refused_with_the_limit():
    with pytest.raises(InvalidParamsError) as error:
        strategy_build("rsi", {"period": 1})
    assert error.value.errors == {"period": "must be at least 2, got 1"}


def test_a_param_of_the_wrong_type_is_refused():
    with pytest.raises(InvalidParamsError) as error:
        strategy_build("rsi", {"period": "fourteen"})
    assert error.value.errors == {"period": "must be a int, got 'fourteen'"}


def test_a_fractional_candle_count_is_refused():
    with pytest.raises(InvalidParamsError, match="period: must be a int, got 14.5"):
        strategy_build("rsi", {"period": 14.5})


def test_an_unknown_param_is_refused():
    with pytest.raises(InvalidParamsError) as error:
        strategy_build("rsi", {"periods": 10})
    assert error.value.errors == {"periods": "is not a parameter of this strategy"}


@pytest.mark.parametrize("name", ["ema_cross", "sma_cross", "macd", "mtf_trend"])
def test_a_fast_average_not_faster_than_the_slow_one_is_refused(name):
    with pytest.raises(InvalidParamsError) as error:
        strategy_build(name, {"fast": 30, "slow": 30})
    assert error.value.errors == {"fast": "must be less than slow (30), got 30"}


def test_rsi_oversold_must_be_below_overbought():
    with pytest.raises(InvalidParamsError, match="oversold: must be less than overbought"):
        strategy_build("rsi", {"oversold": 80})


def test_grid_low_must_be_below_high():
    with pytest.raises(InvalidParamsError, match="low: must be less than high"):
        strategy_build("grid", {"low": 300})


def test_the_trend_timeframe_must_be_longer_than_the_entry_timeframe():
    with pytest.raises(InvalidParamsError, match="trend_timeframe: must be longer than entry_timeframe"):
        strategy_build("mtf_trend", {"entry_timeframe": "1h", "trend_timeframe": "1h"})


def test_a_timeframe_outside_the_choices_is_refused():
    with pytest.raises(InvalidParamsError, match="trend_timeframe: must be one of"):
        strategy_build("mtf_trend", {"trend_timeframe": "3d"})


def test_schemas_describe_every_param_with_its_limits_and_help():
    schema = strategy_schemas()["rsi"]["params"]["period"]
    assert schema == {"type": "int", "default": 14, "min": 2, "max": 500, "help": "RSI length in candles.", "choices": None}
    assert all(param["help"] for entry in strategy_schemas().values() for param in entry["params"].values())
