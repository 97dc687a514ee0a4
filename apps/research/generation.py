"""Generated strategies: `generate_strategies --count N` runs a seeded genetic search over the
"rules" strategy's building blocks (apps/engine/genetic.py) on the `research` queue.

- `search_create` checks everything at once (the account, markets and timeframe through the
  one strategy validation), splits the span into a walk-forward (an in-sample window, then
  `folds` out-of-sample windows tiling the end, engine/walkforward.py, anchored) and stores
  generation 0's candidates, drawn from the seed.
- Each candidate is one task (`research.tasks.candidate_evaluate`): the bias checks
  (engine/bias.py, look-ahead and recursive, on a seeded market), then a backtest on the
  in-sample window (its fitness) and one on each fold's test window (the `backtest` command's
  own plan and engine path, candles cached per worker). Its row is written once (a
  conditional UPDATE from pending), so a redelivered task changes nothing.
- The task that evaluates a generation's last candidate moves the search on (a conditional
  UPDATE of `generation`: one task wins) and breeds the next generation from every candidate
  so far, by in-sample fitness only (the out-of-sample windows never steer the search), from
  the generator seeded with (seed, generation): a seed gives the same candidates.
- After the last generation the candidates that passed the bias checks, have an
  out-of-sample objective and at least `min_trades` trades out of sample are ranked by
  out-of-sample objective, then stability (share of folds that made money), then trades, and
  the best `survivors` are stored as stopped Strategies (kind "rules") through
  `strategy_create`, named "GA <search>.<rank> ..." so a trader finds, reviews and starts them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from celery import current_app
from django.db import transaction

from apps.common.errors import ApplicationError, Invalid, NotFound
from apps.engine.bias import bias_candles, bias_check
from apps.engine.genetic import (
    CandidateScore,
    FoldFigures,
    Genome,
    candidate_score,
    generation_next,
    population_initial,
    rank_key,
)
from apps.engine.strategies.registry import strategy_build
from apps.engine.walkforward import WalkForwardError, walk_forward_folds
from apps.research import candle_cache
from apps.research.models import GeneratedCandidate, StrategySearch
from apps.research.space import OBJECTIVES, objective_values
from apps.strategies.backtests.plan import BacktestRequest, backtest_plan, time_parse
from apps.strategies.backtests.selectors import BacktestError, candles_range, market_by_symbol
from apps.strategies.backtests.services import backtest_result, market_data_load
from apps.strategies.services.configuration import strategy_create
from apps.strategies.validation import strategy_config_validate

logger = logging.getLogger(__name__)
KIND = "rules"
MAX_COUNT = 100_000
BIAS_BARS = 200  # candles after the warm-up the bias checks cut at (every one of them)
NAME_LENGTH = 80
SURVIVOR_ALLOCATION_PCT = Decimal("5")  # % of the account's equity per entry, until a trader sets it
TASK = "apps.research.tasks.candidate_evaluate"
WAITING, NEXT, DONE = "waiting", "next", "done"


@dataclass
class SearchRequest:
    account: int | str | None
    symbols: list[str]
    timeframe: str = "1m"
    exchange: str | None = None
    start: str | None = None  # UTC; default: the first market's stored candles
    end: str | None = None
    count: int = 500
    generations: int = 5
    survivors: int = 10
    folds: int = 3
    test_share: float = 0.3  # of the span, out of sample (shared by the folds)
    objective: str = "return_over_drawdown"
    min_trades: int = 3
    seed: int = 0
    balance: str = "10000"
    fee_pct: str = "0.1"
    slippage_bps: str = "0"


# --- Creating ------------------------------------------------------------------------------


def search_create(request: SearchRequest, *, owner=None) -> StrategySearch:
    """Every bad field at once (Invalid), then the search and its first generation."""
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if request.objective not in OBJECTIVES or request.objective == "multi":
        bad("objective", f"{request.objective!r} is not one of {', '.join(o for o in OBJECTIVES if o != 'multi')}")
    if not 1 <= request.generations <= 1000:
        bad("generations", f"must be between 1 and 1000, got {request.generations}")
    elif not 2 * request.generations <= request.count <= MAX_COUNT:
        bad("count", f"must be between {2 * request.generations} (two per generation) and {MAX_COUNT}, got {request.count}")
    if request.survivors < 1:
        bad("survivors", f"must be at least 1, got {request.survivors}")
    if not 1 <= request.folds <= 50:
        bad("folds", f"must be between 1 and 50, got {request.folds}")
    if not 0 < request.test_share < 1:
        bad("test_share", f"must be between 0 and 1 (the out-of-sample share of the span), got {request.test_share}")
    markets = _markets(request, bad)
    try:
        strategy_config_validate(
            {
                "kind": KIND,
                "params": {},
                "account": request.account,
                "markets": markets,
                "timeframe": request.timeframe,
            }
        )
    except Invalid as exc:
        for name, messages in exc.fields.items():
            errors.setdefault(name, []).extend(messages)
    span = _span(request, markets, bad) if markets and not errors else None
    folds = _folds(request, span, bad) if span else None
    backtest = BacktestRequest(
        strategy=KIND,
        symbols=[m.symbol for m in markets],
        timeframe=request.timeframe,
        balance=request.balance,
        fee_pct=request.fee_pct,
        slippage_bps=request.slippage_bps,
        exchange=markets[0].exchange.code if markets else request.exchange,
    )
    if not errors:
        try:
            backtest_plan(backtest)  # the money settings, as a backtest checks them
        except BacktestError as exc:
            bad("backtest", str(exc))
    if errors:
        raise Invalid.from_fields(errors)
    with transaction.atomic():
        search = StrategySearch.objects.create(
            account_id=int(request.account),
            request=asdict(backtest),
            symbols=backtest.symbols,
            timeframe=request.timeframe,
            start=span[0],
            end=span[1],
            folds=folds,
            objective=request.objective,
            seed=request.seed,
            count=request.count,
            generations=request.generations,
            survivors=request.survivors,
            min_trades=request.min_trades,
            owner=owner,
        )
        genomes = population_initial(_rng(search, 0), search.generation_size(0))
        _candidates_store(search, 0, genomes, first_number=0)
    return search


def _markets(request: SearchRequest, bad) -> list:
    if not request.symbols:
        bad("symbols", "Give at least one market, e.g. --symbol BTC/USDT.")
        return []
    markets = []
    for symbol in dict.fromkeys(request.symbols):
        try:
            markets.append(market_by_symbol(symbol=symbol, exchange=request.exchange))
        except BacktestError as exc:
            bad("symbols", str(exc))
    return markets


def _span(request: SearchRequest, markets, bad) -> tuple[datetime, datetime] | None:
    try:
        start, end = time_parse(request.start, "--start"), time_parse(request.end, "--end")
    except BacktestError as exc:
        bad("span", str(exc))
        return None
    stored = candles_range(market=markets[0], timeframe=request.timeframe)
    if stored is None:
        bad("span", f"no {markets[0].symbol} {request.timeframe} candles are stored")
        return None
    start = start or stored[0]
    end = end or datetime.fromtimestamp(stored[1].timestamp() + 1, tz=UTC)
    if not start < end:
        bad("span", f"start ({start:%Y-%m-%d %H:%M}) must be before end ({end:%Y-%m-%d %H:%M})")
        return None
    return start, end


def _folds(request: SearchRequest, span, bad) -> dict | None:
    start_ms, end_ms = round(span[0].timestamp() * 1000), round(span[1].timestamp() * 1000)
    test_ms = int((end_ms - start_ms) * request.test_share / request.folds)
    train_ms = end_ms - start_ms - request.folds * test_ms
    try:
        folds = walk_forward_folds(start_ms, end_ms, folds=request.folds, train_ms=train_ms, test_ms=test_ms, anchored=True)
    except WalkForwardError as exc:
        bad("folds", str(exc))
        return None
    return {
        "in_sample": [_iso(start_ms), _iso(folds[0].test_start)],
        "out_of_sample": [[_iso(fold.test_start), _iso(fold.test_end)] for fold in folds],
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _rng(search: StrategySearch, generation: int) -> np.random.Generator:
    return np.random.default_rng([search.seed & 0xFFFFFFFF, generation])


def _candidates_store(search: StrategySearch, generation: int, genomes: list[Genome], *, first_number: int) -> None:
    GeneratedCandidate.objects.bulk_create(
        GeneratedCandidate(search=search, generation=generation, number=first_number + i, params=genome.params)
        for i, genome in enumerate(genomes)
    )


# --- Running -------------------------------------------------------------------------------


def search_get(search_id: int) -> StrategySearch:
    search = StrategySearch.objects.filter(pk=search_id).first()
    if search is None:
        raise NotFound(f"there is no strategy search #{search_id}")
    return search


def search_start(search: StrategySearch) -> int:
    """Queue a task for every pending candidate of the current generation (also how a search
    is resumed: a task for an evaluated candidate evaluates nothing again). With none pending
    in a running search (the task that was to breed the next generation or finish failed), one
    task of an evaluated candidate moves the search on. Returns the number queued."""
    search.refresh_from_db()
    if search.status == StrategySearch.Status.FINISHED:
        return 0
    current = search.candidates.filter(generation=search.generation)
    pending = list(current.filter(status=GeneratedCandidate.Status.PENDING).values_list("pk", flat=True))
    if not pending:
        pending = list(current.order_by("-number").values_list("pk", flat=True)[:1])
    task = current_app.tasks[TASK]
    for candidate_id in pending:
        task.apply_async(args=(candidate_id,))
    return len(pending)


def candidate_step(candidate_id: int) -> str:
    """A worker's task: evaluate the candidate (once), then move the search on if its
    generation is complete."""
    candidate = GeneratedCandidate.objects.select_related("search").filter(pk=candidate_id).first()
    if candidate is None:
        return DONE
    if candidate.status == GeneratedCandidate.Status.PENDING:
        candidate_evaluate(candidate)
    return search_advance(candidate.search_id)


def search_run_here(search: StrategySearch, *, progress=None) -> StrategySearch:
    """The whole search in this process, candidate by candidate, as the workers run it."""
    while True:
        search.refresh_from_db()
        pending = list(search.candidates.filter(generation=search.generation, status=GeneratedCandidate.Status.PENDING))
        for candidate in pending:
            candidate_evaluate(candidate)
            if progress:
                progress()
        if search_advance(search.pk) == DONE:
            search.refresh_from_db()
            return search


def candidate_evaluate(candidate: GeneratedCandidate) -> None:
    search = candidate.search
    fields: dict = {"status": GeneratedCandidate.Status.EVALUATED}
    try:
        fields.update(_scores(search, candidate.params))
    except (ApplicationError, BacktestError, ValueError) as exc:  # refused data or params: no score, the search goes on
        fields = {"status": GeneratedCandidate.Status.FAILED, "detail": str(exc)[:2000]}
    except Exception as exc:  # a bug: recorded on the candidate, never a search that stalls
        logger.exception("candidate %s of search %s failed", candidate.pk, search.pk)
        fields = {"status": GeneratedCandidate.Status.FAILED, "detail": f"error: {exc!r}"[:2000]}
    GeneratedCandidate.objects.filter(pk=candidate.pk, status=GeneratedCandidate.Status.PENDING).update(**fields)


def _scores(search: StrategySearch, params: dict) -> dict:
    engine = strategy_build(KIND, params)
    report = bias_check(engine, bias_candles(engine.warmup_period + BIAS_BARS, timeframe=search.timeframe, seed=search.seed))
    if not report.passed:
        return {"bias_passed": False, "bias_detail": "; ".join(map(str, report.findings))}
    _candles_prime(search)
    start, end = search.folds["in_sample"]
    in_sample = _metrics(search, params, start, end)
    objective, _ = objective_values(search.objective, in_sample)
    enough = (in_sample.get("trades") or 0) >= search.min_trades
    folds = []
    for start, end in search.folds["out_of_sample"]:
        metrics = _metrics(search, params, start, end)
        value, _ = objective_values(search.objective, metrics)
        folds.append(
            FoldFigures(
                value[0] if value else None, float(metrics.get("total_return_pct") or 0.0), int(metrics.get("trades") or 0)
            )
        )
    score = candidate_score(folds)
    return {
        "bias_passed": True,
        "in_sample": _finite(objective[0]) if objective and enough else None,
        "out_of_sample": _finite(score.out_of_sample),
        "stability": score.stability,
        "trades": score.trades,
        "fold_figures": [
            asdict(fold) | {"window": window} for fold, window in zip(folds, search.folds["out_of_sample"], strict=True)
        ],
    }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _candles_prime(search: StrategySearch) -> None:
    """The whole span into this worker's candle cache at once: window by window, the cache
    would be read again from the database for each wider span (seconds per read)."""
    for symbol in search.symbols:
        market = market_by_symbol(symbol=symbol, exchange=search.request.get("exchange"))
        candle_cache.candles_cached(market=market, timeframe=search.timeframe, start=search.start, end=search.end)


def _metrics(search: StrategySearch, params: dict, start: str, end: str) -> dict:
    request = BacktestRequest(
        **{**search.request, "start": start, "end": end, "params": [f"{name}={value}" for name, value in params.items()]}
    )
    plan = backtest_plan(request)
    return backtest_result(plan, market_data_load(plan, load=candle_cache.candles_cached)).metrics


def search_advance(search_id: int) -> str:
    """WAITING while the generation has pending candidates; NEXT after breeding the next one
    (its tasks queued after the commit); DONE once the search is finished."""
    search = StrategySearch.objects.get(pk=search_id)
    if search.status == StrategySearch.Status.FINISHED:
        return DONE
    generation = search.generation
    if search.candidates.filter(generation=generation, status=GeneratedCandidate.Status.PENDING).exists():
        return WAITING
    if generation + 1 >= search.generations:
        search_finish(search)
        return DONE
    with transaction.atomic():
        moved = StrategySearch.objects.filter(pk=search.pk, generation=generation).update(generation=generation + 1)
        if not moved:
            return NEXT  # another task bred it
        search.generation = generation + 1
        evaluated = list(search.candidates.order_by("number"))
        pool = [(Genome.from_params(c.params), c.in_sample if c.bias_passed else None) for c in evaluated]
        seen = {genome.key for genome, _ in pool}
        genomes = generation_next(_rng(search, search.generation), pool, search.generation_size(search.generation), seen=seen)
        _candidates_store(search, search.generation, genomes, first_number=len(evaluated))
        transaction.on_commit(lambda: search_start(search))
    return NEXT


# --- Finishing -----------------------------------------------------------------------------


def search_finish(search: StrategySearch) -> list[GeneratedCandidate]:
    """Once (a conditional UPDATE): rank the candidates and store the survivors as stopped
    strategies. A survivor the strategy validation refuses keeps its reason in `detail`."""
    with transaction.atomic():
        if not StrategySearch.objects.filter(pk=search.pk, status=StrategySearch.Status.RUNNING).update(
            status=StrategySearch.Status.FINISHED
        ):
            return []
        survivors = candidates_ranked(search)[: search.survivors]
        markets = [market_by_symbol(symbol=symbol, exchange=search.request.get("exchange")) for symbol in search.symbols]
        for rank, candidate in enumerate(survivors, start=1):
            candidate.rank = rank
            try:
                candidate.strategy = strategy_create(
                    actor=None,
                    via="system",
                    values={
                        "name": survivor_name(search, rank, candidate.params),
                        "kind": KIND,
                        "params": candidate.params,
                        "account": search.account_id,
                        "markets": markets,
                        "timeframe": search.timeframe,
                        "allocation_type": "equity_pct",
                        "allocation_value": SURVIVOR_ALLOCATION_PCT,
                    },
                )
            except Invalid as exc:
                candidate.detail = f"not stored as a strategy: {exc.message}"[:2000]
            candidate.save(update_fields=["rank", "strategy", "detail"])
    return survivors


def candidates_ranked(search: StrategySearch) -> list[GeneratedCandidate]:
    """The candidates that may survive, best first (engine.genetic.rank_key)."""
    eligible = search.candidates.filter(
        status=GeneratedCandidate.Status.EVALUATED,
        bias_passed=True,
        out_of_sample__isnull=False,
        trades__gte=search.min_trades,
    )
    return sorted(eligible, key=lambda c: (*rank_key(CandidateScore(c.out_of_sample, c.stability or 0.0, c.trades)), c.number))


def survivor_name(search: StrategySearch, rank: int, params: dict) -> str:
    name = f"GA {search.pk}.{rank}: {params['entry']} / exit {params['exit']}"
    return name if len(name) <= NAME_LENGTH else name[: NAME_LENGTH - 3] + "..."


@dataclass
class SearchProgress:
    evaluated: int
    failed: int
    count: int
    generation: int
    status: str
    survivors: int


def search_progress(search: StrategySearch) -> SearchProgress:
    search.refresh_from_db()
    candidates = search.candidates
    return SearchProgress(
        evaluated=candidates.exclude(status=GeneratedCandidate.Status.PENDING).count(),
        failed=candidates.filter(status=GeneratedCandidate.Status.FAILED).count(),
        count=search.count,
        generation=search.generation,
        status=search.status,
        survivors=candidates.filter(strategy__isnull=False).count(),
    )


def search_daily(*, account, symbols: list[str], options: dict) -> StrategySearch:
    """The beat entry's search: the last `days` (default 90) up to now, seeded by the date so
    each day explores other genomes; queued at once."""
    options = dict(options)
    days = float(options.pop("days", 90))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    known = set(SearchRequest.__dataclass_fields__) - {"account", "symbols", "start", "end", "seed"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise Invalid.from_fields({"options": f"not settings of a search: {', '.join(unknown)}"})
    request = SearchRequest(
        account=account,
        symbols=symbols,
        start=(now - timedelta(days=days)).isoformat(),
        end=now.isoformat(),
        seed=int(now.strftime("%Y%m%d")),
        **options,
    )
    search = search_create(request)
    search_start(search)
    return search
