"""manage.py bias_check: a trader checks one strategy or all of them and reads the verdict."""

import pytest
from django.core.management import CommandError, call_command

from apps.engine.strategies.registry import strategy_classes


def bias_check(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("bias_check", *args, stdout=out)
    return out.getvalue()


def test_every_registered_strategy_passes_when_none_is_named():
    out = bias_check("--bars", "120")
    for name in strategy_classes():
        assert f"ok     {name}: " in out
    assert "FAILED" not in out


def test_one_strategy_with_its_params_is_checked_on_every_truncated_history():
    out = bias_check("--strategy", "ema_cross", "--param", "fast=5", "--param", "slow=30", "--bars", "200")
    assert out.splitlines()[0].startswith("ok     ema_cross: ")
    assert "200 truncated histories" in out


def test_bad_params_are_refused_in_trader_words():
    with pytest.raises(CommandError, match="fast: must be less than slow"):
        bias_check("--strategy", "ema_cross", "--param", "fast=30", "--param", "slow=10")


def test_an_unknown_strategy_is_refused_with_the_known_ones():
    with pytest.raises(CommandError, match="unknown strategy 'nope'; known strategies: bollinger"):
        bias_check("--strategy", "nope")
