"""The genetic search over composed rules, pure: genomes, random ones, mutation, crossover,
the next generation, and the score of a candidate across walk-forward folds.

A genome is an entry rule and an exit rule of the "rules" strategy (strategies/rules.py):
each rule 1..MAX_GENES conditions joined by and / or. The genes are the conditions'
indicators, lengths, comparators and thresholds, and the connectives. A genome serialises to
the strategy's params ({"entry": text, "exit": text}); the text is also its identity (two
genomes writing the same text are the same candidate).

Everything random draws from a numpy Generator the caller seeds, so a seed and the same
fitness values give the same generations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from apps.engine.strategies.rules import Condition, Operand, Rule, rule_parse

MAX_GENES = 3
# Oscillators compared with a level: name -> (length range, threshold range, threshold step).
LEVELS = {
    "rsi": ((5, 50), (10.0, 90.0), 1.0),
    "chan": ((10, 200), (5.0, 95.0), 1.0),
    "bbp": ((10, 100), (-10.0, 110.0), 1.0),
    "roc": ((5, 200), (-3.0, 3.0), 0.1),
}
AVERAGES = ("sma", "ema")
AVERAGE_LENGTHS = (5, 300)
COMPARATORS = (">", "<", "crosses_above", "crosses_below")
TOURNAMENT = 3
ATTEMPTS = 50  # tries at a child not seen before, then a random newcomer


@dataclass(frozen=True)
class Genome:
    entry: Rule
    exit: Rule

    @property
    def params(self) -> dict[str, str]:
        return {"entry": str(self.entry), "exit": str(self.exit)}

    @property
    def key(self) -> str:
        return f"{self.entry} => {self.exit}"

    @classmethod
    def from_params(cls, params: dict) -> Genome:
        return cls(rule_parse(params["entry"]), rule_parse(params["exit"]))


# --- Random genes ----------------------------------------------------------------------------


def _length(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    """Log-uniform: short and long lengths are equally likely per doubling."""
    low, high = bounds
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))


def _threshold(rng: np.random.Generator, name: str) -> float:
    _, (low, high), step = LEVELS[name]
    return _snap(rng.uniform(low, high), name)


def _snap(value: float, name: str) -> float:
    _, (low, high), step = LEVELS[name]
    return round(min(max(round(value / step) * step, low), high), 4)


def condition_random(rng: np.random.Generator) -> Condition:
    comparator = str(rng.choice(COMPARATORS))
    if rng.random() < 0.6:
        name = str(rng.choice(list(LEVELS)))
        left = Operand(name, _length(rng, LEVELS[name][0]))
        return Condition(left, comparator, Operand("number", value=_threshold(rng, name)))
    if rng.random() < 0.5:
        return Condition(Operand("close"), comparator, Operand(str(rng.choice(AVERAGES)), _length(rng, AVERAGE_LENGTHS)))
    fast, slow = sorted(_length(rng, AVERAGE_LENGTHS) for _ in range(2))
    slow = max(slow, fast + 1)
    return Condition(Operand(str(rng.choice(AVERAGES)), fast), comparator, Operand(str(rng.choice(AVERAGES)), slow))


def rule_random(rng: np.random.Generator) -> Rule:
    count = int(rng.integers(1, MAX_GENES + 1))
    conditions = tuple(condition_random(rng) for _ in range(count))
    return Rule(conditions, tuple(str(rng.choice(("and", "or"))) for _ in range(count - 1)))


def genome_random(rng: np.random.Generator) -> Genome:
    return Genome(rule_random(rng), rule_random(rng))


# --- Variation -------------------------------------------------------------------------------


def condition_mutate(condition: Condition, rng: np.random.Generator) -> Condition:
    """One gene changed: a length, a threshold, the comparator, or the condition anew."""
    left, comparator, right = condition.left, condition.comparator, condition.right
    roll = rng.random()
    if roll < 0.15:
        return condition_random(rng)
    if roll < 0.35:
        return Condition(left, str(rng.choice([c for c in COMPARATORS if c != comparator])), right)
    if right.name == "number" and roll < 0.7:
        _, (low, high), _ = LEVELS[left.name]
        return Condition(
            left, comparator, Operand("number", value=_snap(right.value + rng.normal(0, (high - low) * 0.1), left.name))
        )
    side = left if (left.name != "close" and (right.name == "number" or rng.random() < 0.5)) else right
    bounds = LEVELS[side.name][0] if side.name in LEVELS else AVERAGE_LENGTHS
    length = int(min(max(round(side.length * math.exp(rng.normal(0, 0.3))), bounds[0]), bounds[1]))
    changed = Operand(side.name, length)
    return Condition(changed, comparator, right) if side is left else Condition(left, comparator, changed)


def rule_mutate(rule: Rule, rng: np.random.Generator) -> Rule:
    conditions, connectives = list(rule.conditions), list(rule.connectives)
    roll = rng.random()
    if roll < 0.15 and len(conditions) < MAX_GENES:
        conditions.append(condition_random(rng))
        if conditions[-1] in conditions[:-1]:
            return rule
        connectives.append(str(rng.choice(("and", "or"))))
    elif roll < 0.3 and len(conditions) > 1:
        drop = int(rng.integers(len(conditions)))
        del conditions[drop]
        del connectives[max(drop - 1, 0)]
    elif roll < 0.45 and connectives:
        flip = int(rng.integers(len(connectives)))
        connectives[flip] = "or" if connectives[flip] == "and" else "and"
    else:
        which = int(rng.integers(len(conditions)))
        conditions[which] = condition_mutate(conditions[which], rng)
        if conditions.count(conditions[which]) > 1:
            return rule
    return Rule(tuple(conditions), tuple(connectives))


def genome_mutate(genome: Genome, rng: np.random.Generator) -> Genome:
    if rng.random() < 0.5:
        return Genome(rule_mutate(genome.entry, rng), genome.exit)
    return Genome(genome.entry, rule_mutate(genome.exit, rng))


def rule_crossover(a: Rule, b: Rule, rng: np.random.Generator) -> Rule:
    """The first part of a's conditions and the last part of b's, at most MAX_GENES."""
    cut_a = int(rng.integers(1, len(a.conditions) + 1))
    cut_b = int(rng.integers(0, len(b.conditions)))
    conditions = tuple(dict.fromkeys(a.conditions[:cut_a] + b.conditions[cut_b:]))[:MAX_GENES]  # each once
    pool = a.connectives[: cut_a - 1] + (str(rng.choice(("and", "or"))),) + b.connectives[cut_b:]
    return Rule(conditions, tuple(pool[: len(conditions) - 1]))


def genome_crossover(a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
    roll = rng.random()
    if roll < 0.5:  # whole rules swapped: a's entry with b's exit, or the mirror
        return Genome(a.entry, b.exit) if rng.random() < 0.5 else Genome(b.entry, a.exit)
    return Genome(rule_crossover(a.entry, b.entry, rng), rule_crossover(a.exit, b.exit, rng))


# --- Generations -----------------------------------------------------------------------------


def population_initial(rng: np.random.Generator, size: int, seen: set[str] | None = None) -> list[Genome]:
    """`size` random genomes, all different (and none in `seen`)."""
    seen = set() if seen is None else seen
    result = []
    while len(result) < size:
        genome = genome_random(rng)
        if genome.key not in seen:
            seen.add(genome.key)
            result.append(genome)
    return result


def generation_next(
    rng: np.random.Generator,
    evaluated: Sequence[tuple[Genome, float | None]],
    size: int,
    *,
    seen: set[str],
    mutation: float = 0.6,
) -> list[Genome]:
    """`size` new genomes bred from every candidate evaluated so far (the best keep breeding:
    the elite never leaves the pool), none seen before. Parents by tournaments of TOURNAMENT
    on fitness (None: worst); a child is a crossover of two, then mutated with probability
    `mutation` (always when the crossover gave a genome seen already)."""
    if not evaluated:
        return population_initial(rng, size, seen)
    fitness = np.array([-np.inf if f is None or not math.isfinite(f) else f for _, f in evaluated], dtype=np.float64)

    def parent() -> Genome:
        picks = rng.integers(0, len(evaluated), TOURNAMENT)
        return evaluated[int(picks[np.argmax(fitness[picks])])][0]

    result = []
    while len(result) < size:
        child = None
        for _ in range(ATTEMPTS):
            candidate = genome_crossover(parent(), parent(), rng)
            if rng.random() < mutation or candidate.key in seen:
                candidate = genome_mutate(candidate, rng)
            if candidate.key not in seen:
                child = candidate
                break
        if child is None:
            child = population_initial(rng, 1, seen)[0]
        seen.add(child.key)
        result.append(child)
    return result


# --- Scores across folds ---------------------------------------------------------------------


@dataclass(frozen=True)
class FoldFigures:
    objective: float | None  # the objective on the fold's test window (None: undefined, e.g. no trade)
    return_pct: float
    trades: int


@dataclass(frozen=True)
class CandidateScore:
    out_of_sample: float | None  # mean objective of the folds where it is defined
    stability: float  # share of folds that made money (0..1)
    trades: int  # out-of-sample trades, all folds


def candidate_score(folds: Sequence[FoldFigures]) -> CandidateScore:
    defined = [fold.objective for fold in folds if fold.objective is not None]
    return CandidateScore(
        out_of_sample=float(np.mean(defined)) if defined else None,
        stability=sum(fold.return_pct > 0 for fold in folds) / len(folds) if folds else 0.0,
        trades=sum(fold.trades for fold in folds),
    )


def rank_key(score: CandidateScore) -> tuple:
    """Best first when sorted: out-of-sample objective, then stability, then trade count."""
    return (-(score.out_of_sample if score.out_of_sample is not None else -np.inf), -score.stability, -score.trades)
