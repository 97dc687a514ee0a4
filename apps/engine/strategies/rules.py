"""Composed rules ("rules"): entry and exit written as conditions on indicators joined by
AND / OR, the strategies the genetic search (engine/genetic.py) writes and a trader can read
and edit in the admin.

A rule is text, e.g. ``rsi(14) crosses_above 30 and close > sma(200)``:
- condition := operand comparator (operand | number)
- comparator: ``>``, ``<``, ``crosses_above``, ``crosses_below`` (from <= to > between the
  previous close and this one, and the mirror)
- operand: ``close``; averages of the close ``sma(n)``, ``ema(n)``; oscillators ``rsi(n)``
  (0..100), ``chan(n)`` (where the close sits in the n-candle high-low channel, 0..100),
  ``bbp(n)`` (Bollinger %b of n closes at 2 standard deviations, x100: 0 at the lower band,
  100 at the upper), ``roc(n)`` (% change of the close over n candles)
- ``and`` binds tighter than ``or``: ``a or b and c`` is ``a or (b and c)``.
Long only: buy (entry_long) when the entry rule holds at a close and no position is held,
sell (exit_long) when the exit rule holds. Every operand is computed once over the whole
history (vectorised), from data up to each candle's close.
Warm-up: the longest operand's own (an EMA's or RSI's until its seed weighs < 0.1 %) + 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from apps.engine import indicators as ind
from apps.engine.strategies._common import ema_settling, signal_arrays, wilder_settling
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy

COMPARATORS = (">", "<", "crosses_above", "crosses_below")
# name -> (smallest length, largest length); "close" takes none.
OPERANDS = {"sma": (2, 2000), "ema": (2, 2000), "rsi": (2, 500), "chan": (2, 2000), "bbp": (2, 2000), "roc": (1, 2000)}
MAX_CONDITIONS = 6
MAX_TEXT = 400
_TOKEN = re.compile(
    r"\s*(?:(?P<name>[a-z_]+)\s*\(\s*(?P<length>[^)]*)\)|(?P<word>[a-z_]+)|(?P<op>[<>])|(?P<number>[-+]?\d+(?:\.\d+)?))"
)


class RuleError(ValueError):
    """A rule that cannot be read; the message says where and what to write instead."""


@dataclass(frozen=True)
class Operand:
    name: str  # "close", "number" or an OPERANDS name
    length: int = 0
    value: float = 0.0  # for "number"

    def __str__(self) -> str:
        if self.name == "number":
            return f"{self.value:g}"
        return self.name if self.name == "close" else f"{self.name}({self.length})"

    @property
    def warmup(self) -> int:
        if self.name == "ema":
            return self.length + ema_settling(self.length)
        if self.name == "rsi":
            return self.length + wilder_settling(self.length)
        if self.name == "roc":
            return self.length + 1
        return max(self.length, 1)


@dataclass(frozen=True)
class Condition:
    left: Operand
    comparator: str
    right: Operand

    def __str__(self) -> str:
        return f"{self.left} {self.comparator} {self.right}"


@dataclass(frozen=True)
class Rule:
    """Conditions joined by connectives ("and" / "or"); len(connectives) == len(conditions) - 1."""

    conditions: tuple[Condition, ...]
    connectives: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [str(self.conditions[0])]
        for connective, condition in zip(self.connectives, self.conditions[1:], strict=True):
            parts += [connective, str(condition)]
        return " ".join(parts)

    @property
    def operands(self) -> list[Operand]:
        return [o for c in self.conditions for o in (c.left, c.right) if o.name != "number"]

    @property
    def warmup(self) -> int:
        return max(operand.warmup for operand in self.operands) + 2


@lru_cache(maxsize=4096)
def rule_parse(text: str) -> Rule:
    """The rule written in `text`, or RuleError saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise RuleError("write at least one condition, e.g. rsi(14) crosses_above 30")
    if len(text) > MAX_TEXT:
        raise RuleError(f"a rule is at most {MAX_TEXT} characters")
    tokens = _tokens(text.lower())
    conditions, connectives, position = [], [], 0
    while True:
        condition, position = _condition(tokens, position)
        conditions.append(condition)
        if position == len(tokens):
            break
        kind, value = tokens[position]
        if kind != "word" or value not in ("and", "or"):
            raise RuleError(f"expected and / or after {condition}, got {value!r}")
        connectives.append(value)
        position += 1
    if len(conditions) > MAX_CONDITIONS:
        raise RuleError(f"at most {MAX_CONDITIONS} conditions in a rule, got {len(conditions)}")
    return Rule(tuple(conditions), tuple(connectives))


def _tokens(text: str) -> list[tuple[str, object]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise RuleError(f"cannot read {text[position:].strip()[:20]!r}")
        if match["name"] is not None:
            tokens.append(("call", (match["name"], match["length"].strip())))
        elif match["word"] is not None:
            tokens.append(("word", match["word"]))
        elif match["op"] is not None:
            tokens.append(("op", match["op"]))
        else:
            tokens.append(("number", float(match["number"])))
        position = match.end()
    return tokens


def _condition(tokens, position) -> tuple[Condition, int]:
    if position + 3 > len(tokens):
        raise RuleError("a condition is: operand comparator operand-or-number, e.g. close > sma(50)")
    left = _operand(tokens[position], allow_number=False)
    kind, comparator = tokens[position + 1]
    if kind not in ("op", "word") or comparator not in COMPARATORS:
        raise RuleError(f"after {left} write one of {', '.join(COMPARATORS)}; got {comparator!r}")
    right = _operand(tokens[position + 2], allow_number=True)
    return Condition(left, comparator, right), position + 3


def _operand(token, *, allow_number: bool) -> Operand:
    kind, value = token
    if kind == "number" and allow_number:
        return Operand("number", value=value)
    if kind == "word" and value == "close":
        return Operand("close")
    if kind == "call" and value[0] in OPERANDS:
        name, raw = value
        low, high = OPERANDS[name]
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise RuleError(f"{name}(n): n is a whole number of candles from {low} to {high}, got {raw!r}")
        return Operand(name, int(raw))
    known = ", ".join(["close", *(f"{name}(n)" for name in OPERANDS)])
    shown = f"{value[0]}({value[1]})" if kind == "call" else value
    raise RuleError(f"{shown!r} is not an operand; use {known}" + (" or a number" if allow_number else ""))


def operand_values(operand: Operand, candles: Candles) -> np.ndarray | float:
    close = candles.close
    if operand.name == "number":
        return operand.value
    if operand.name == "close":
        return close
    n = operand.length
    if operand.name == "sma":
        return ind.sma(close, n)
    if operand.name == "ema":
        return ind.ema(close, n)
    if operand.name == "rsi":
        return ind.rsi(close, n)
    if operand.name == "roc":
        before = ind.shift(close, n)
        return 100.0 * (close / before - 1.0)
    if operand.name == "chan":
        high, low = ind.highest(candles.high, n), ind.lowest(candles.low, n)
        width = high - low
        with np.errstate(invalid="ignore", divide="ignore"):
            position = np.where(width > 0, 100.0 * (close - low) / width, 50.0)
        return np.where(np.isnan(width), np.nan, position)
    upper, _, lower = ind.bollinger(close, n, 2.0)  # "bbp"
    width = upper - lower
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.where(width > 0, 100.0 * (close - lower) / width, 50.0)
    return np.where(np.isnan(width), np.nan, percent)


def rule_holds(rule: Rule, values: dict[str, np.ndarray | float], length: int) -> np.ndarray:
    """Where the rule holds; `values` maps each operand's text to its values."""

    def condition(c: Condition) -> np.ndarray:
        left, right = values[str(c.left)], values[str(c.right)]
        if c.comparator == "crosses_above":
            return ind.crossed_above(left, right)
        if c.comparator == "crosses_below":
            return ind.crossed_below(left, right)
        with np.errstate(invalid="ignore"):
            return np.asarray(left > right if c.comparator == ">" else left < right, dtype=bool)

    result = np.zeros(length, dtype=bool)
    term = condition(rule.conditions[0])
    for connective, next_condition in zip(rule.connectives, rule.conditions[1:], strict=True):
        if connective == "and":
            term = term & condition(next_condition)
        else:
            result |= term
            term = condition(next_condition)
    return result | term


class RulesStrategy(Strategy):
    name = "rules"
    description = "Buy when the entry rule holds, sell when the exit rule holds (conditions on indicators with and / or)."
    params_schema = (
        Param(
            "entry",
            str,
            "rsi(14) crosses_above 30",
            help="When to buy: conditions joined by and / or, e.g. rsi(14) crosses_above 30 and close > sma(200). "
            "Operands: close, sma(n), ema(n), rsi(n), chan(n), bbp(n), roc(n), numbers; "
            "comparators: >, <, crosses_above, crosses_below.",
        ),
        Param("exit", str, "rsi(14) crosses_below 70", help="When to sell, written as the entry rule."),
    )

    @classmethod
    def cross_check(cls, values):
        errors = {}
        for name in ("entry", "exit"):
            try:
                rule_parse(values[name])
            except RuleError as exc:
                errors[name] = str(exc)
        return errors

    @property
    def rules(self) -> tuple[Rule, Rule]:
        return rule_parse(self.params["entry"]), rule_parse(self.params["exit"])

    @property
    def warmup_period(self) -> int:
        return max(rule.warmup for rule in self.rules)

    def signals(self, candles: Candles) -> SignalArrays:
        entry, exit_ = self.rules
        values: dict[str, np.ndarray | float] = {}
        for rule in (entry, exit_):
            for condition in rule.conditions:
                for operand in (condition.left, condition.right):
                    if str(operand) not in values:
                        values[str(operand)] = operand_values(operand, candles)
        n = len(candles)
        return signal_arrays(
            n,
            self.warmup_period,
            entry_long=rule_holds(entry, values, n),
            exit_long=rule_holds(exit_, values, n),
            indicators={name: v for name, v in values.items() if not np.isscalar(v) and name != "close"},
        )
