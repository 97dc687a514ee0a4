"""Backtest jobs: a backtest launched from a page or the API, checked at once (every bad field
together, by the same rules as the backtest command), queued on the `research` queue and run
by a worker that reports its progress (the job row and a `backtest.progressed` event on the
owner's topic) until it is done (its BacktestRun) or failed (why, in a trader's words)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields as dataclass_fields

from celery import current_app
from django.db import transaction
from django.utils import timezone

from apps.common.audit import audit_record, audit_refusals
from apps.common.errors import Invalid, NotAllowed, NotFound
from apps.common.events import event_record
from apps.common.logging import get_logger
from apps.engine.strategies.base import InvalidParamsError
from apps.engine.strategies.registry import strategy_classes
from apps.exchanges.roles import Role, user_has_role
from apps.exchanges.selectors import account_scoped
from apps.strategies.backtests.plan import BacktestRequest, backtest_plan, time_parse, timeframe_check
from apps.strategies.backtests.selectors import BacktestError, market_by_symbol
from apps.strategies.backtests.services import backtest_execute
from apps.strategies.models import BacktestJob, Strategy
from apps.strategies.validation import strategy_settings_validate

log = get_logger(__name__)

TASK = "apps.strategies.tasks.backtest_job_run"
MONEY_FIELDS = ("initial_balance", "fee_pct", "slippage_bps", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct")
LAUNCH_FIELDS = ("strategy", "params", "symbols", "timeframe", "start", "end", *MONEY_FIELDS)
DEFAULTS = {"initial_balance": "10000", "fee_pct": "0.1", "slippage_bps": "0", "timeframe": "1h"}
UNEXPECTED = (
    "The backtest stopped on an unexpected error (written to the worker's log with job #{job}). "
    "Try again; if it fails the same way, report it with the job number."
)


# --- Checking what was asked -----------------------------------------------------------------


def backtest_launch_check(values: Mapping, *, actor=None) -> BacktestRequest:
    """The launch form's values (as the API takes them) as a BacktestRequest, or Invalid with
    every bad field at once. A configured strategy outside the actor's accounts is NotFound."""
    unknown = sorted(set(values) - set(LAUNCH_FIELDS))
    errors: dict[str, list[str]] = {name: ["is not a backtest setting"] for name in unknown}
    strategy, kind = _strategy_check(values, errors, actor)
    params = _params_check(kind, values.get("params"), errors)
    symbols = _symbols_check(values.get("symbols"), strategy, errors)
    timeframe = _text(values.get("timeframe")) or (strategy.timeframe if strategy else DEFAULTS["timeframe"])
    _collect(errors, "timeframe", lambda: timeframe_check(timeframe, "timeframe"))
    start = _collect(errors, "start", lambda: time_parse(_text(values.get("start")), "start"))
    end = _collect(errors, "end", lambda: time_parse(_text(values.get("end")), "end"))
    if start and end and start >= end:
        errors.setdefault("end", []).append(f"must be after the start ({start:%Y-%m-%d %H:%M} UTC)")
    money = {name: _text(values.get(name)) or DEFAULTS.get(name, "") for name in MONEY_FIELDS}
    try:
        strategy_settings_validate({name: value.rstrip("%") for name, value in money.items()})
    except Invalid as exc:
        for name, messages in exc.fields.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise Invalid.from_fields(errors)
    request = BacktestRequest(
        strategy=str(strategy.pk) if strategy else kind,
        symbols=symbols,
        timeframe=timeframe,
        start=_text(values.get("start")) or None,
        end=_text(values.get("end")) or None,
        balance=money["initial_balance"],
        fee_pct=money["fee_pct"],
        slippage_bps=money["slippage_bps"],
        params=[f"{name}={value}" for name, value in params.items()],
        stop_loss_pct=money["stop_loss_pct"] or None,
        take_profit_pct=money["take_profit_pct"] or None,
        trailing_stop_pct=money["trailing_stop_pct"] or None,
    )
    try:
        backtest_plan(request)  # what only the whole plan can tell (e.g. a strategy's own allocation rules)
    except BacktestError as exc:
        raise Invalid.from_fields({"strategy": str(exc)}) from None
    return request


def _strategy_check(values: Mapping, errors: dict, actor) -> tuple[Strategy | None, str | None]:
    asked = _text(values.get("strategy"))
    kinds = strategy_classes()
    if not asked:
        errors["strategy"] = [f"choose a strategy kind ({', '.join(sorted(kinds))}) or a configured strategy's id"]
        return None, None
    if asked.isdigit():
        strategy = account_scoped(Strategy.objects.all(), user=actor).filter(pk=int(asked)).first() if actor else None
        if strategy is None and actor is not None:
            raise NotFound(f"No strategy #{asked} on your accounts.")
        strategy = strategy or Strategy.objects.filter(pk=int(asked)).first()
        if strategy is None:
            errors["strategy"] = [f"no configured strategy has id {asked}"]
            return None, None
        return strategy, strategy.kind
    if asked not in kinds:
        errors["strategy"] = [f"{asked!r} is not a strategy kind; choose one of {', '.join(sorted(kinds))}"]
        return None, None
    return None, asked


def _params_check(kind: str | None, raw, errors: dict) -> dict:
    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, Mapping):
        errors["params"] = ['give the parameters as an object of name: value, e.g. {"fast": 9, "slow": 21}']
        return {}
    given = {name: value for name, value in raw.items() if value not in (None, "")}  # blank: the default
    if kind is None:
        return given
    try:
        strategy_classes()[kind].validate_params(given)
    except InvalidParamsError as exc:
        for name, message in exc.errors.items():
            errors.setdefault(f"params.{name}", []).append(message)
    return given


def _symbols_check(raw, strategy: Strategy | None, errors: dict) -> list[str]:
    if isinstance(raw, str):
        raw = [part for part in raw.replace(",", " ").split() if part]
    symbols = [str(symbol).strip() for symbol in raw or [] if str(symbol).strip()]
    if not symbols and strategy is not None:
        symbols = [market.symbol for market in strategy.markets.order_by("symbol")]
    if not symbols:
        errors["symbols"] = ["choose at least one market, e.g. BTC/USDT"]
    exchange = strategy.account.exchange.code if strategy else None
    for symbol in dict.fromkeys(symbols):
        _collect(errors, "symbols", lambda symbol=symbol: market_by_symbol(symbol=symbol, exchange=exchange))
    return list(dict.fromkeys(symbols))


def _collect(errors: dict, name: str, check):
    try:
        return check()
    except BacktestError as exc:
        errors.setdefault(name, []).append(str(exc))
        return None


def _text(value) -> str:
    return "" if value is None else str(value).strip()


# --- Launching --------------------------------------------------------------------------------


def backtest_job_submit(*, actor, values: Mapping, via: str) -> BacktestJob:
    """Check, store and queue a backtest job for `actor` (trader role at least; a configured
    strategy must be on the actor's accounts). Audited, refusals too."""
    with audit_refusals(actor=actor, via=via, action="backtest.launch", object_type=BacktestJob._meta.label_lower, object_id=""):
        if actor is not None and not user_has_role(actor, Role.TRADER):
            raise NotAllowed(f"{actor.get_username()} may not launch backtests: that needs the trader role.")
        request = backtest_launch_check(values, actor=actor)
        asked = {field.name: getattr(request, field.name) for field in dataclass_fields(BacktestRequest)}
        with transaction.atomic():
            job = BacktestJob.objects.create(
                owner=actor,
                strategy_id=int(request.strategy) if request.strategy.isdigit() else None,
                request=asked,
                stage="waiting for a research worker",
            )
            _announce(job)
            audit_record(actor=actor, via=via, action="backtest.launch", obj=job, after=asked)
            transaction.on_commit(lambda: current_app.tasks[TASK].apply_async(args=(job.pk,)))
    return job


# --- Running (the worker) ---------------------------------------------------------------------


def backtest_job_execute(*, job_id: int) -> BacktestJob | None:
    """Run a queued job once: a conditional claim (queued -> running) makes a redelivered
    message a no-op. Progress is saved and announced as the run goes."""
    claimed = BacktestJob.objects.filter(pk=job_id, status=BacktestJob.Status.QUEUED).update(
        status=BacktestJob.Status.RUNNING, started_at=timezone.now(), progress=1, stage="starting", updated_at=timezone.now()
    )
    if not claimed:
        return None
    job = BacktestJob.objects.select_related("owner").get(pk=job_id)
    _progress_save(job)
    request = BacktestRequest(**job.request)
    try:
        outcome = backtest_execute(request, owner=job.owner, progress=False, on_step=lambda p, s: _step(job, p, s))
    except BacktestError as exc:
        return _finish(job, status=BacktestJob.Status.FAILED, error=str(exc))
    except Exception:
        log.exception("backtest_job_failed", job=job.pk)
        return _finish(job, status=BacktestJob.Status.FAILED, error=UNEXPECTED.format(job=job.pk))
    return _finish(job, status=BacktestJob.Status.DONE, run=outcome.run)


def _step(job: BacktestJob, percent: int, stage: str) -> None:
    percent = max(job.progress, min(int(percent), 99))  # 100 is done, and a bar never goes back
    if percent == job.progress and stage == job.stage:
        return
    job.progress, job.stage = percent, stage[:80]
    _progress_save(job)


def _progress_save(job: BacktestJob) -> None:
    with transaction.atomic():
        job.save(update_fields=["status", "progress", "stage", "error", "result", "started_at", "finished_at", "updated_at"])
        _announce(job)


def _finish(job: BacktestJob, *, status: str, error: str = "", run=None) -> BacktestJob:
    job.status, job.error, job.result, job.finished_at = status, error, run, timezone.now()
    job.progress = 100 if status == BacktestJob.Status.DONE else job.progress
    job.stage = "done" if run else "failed"
    _progress_save(job)
    return job


def _announce(job: BacktestJob) -> None:
    if job.owner_id is None:
        return
    event_record(
        "backtest.progressed",
        {
            "job": job.pk,
            "status": job.status,
            "progress": job.progress,
            "stage": job.stage,
            "error": job.error,
            "run": job.result_id,
        },
        user=job.owner_id,
    )
