"""Generated strategies: a seeded genetic search over composed indicator rules, every candidate
bias-checked and walk-forward tested, the best stored as stopped strategies a trader can open,
review and start."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from apps.desk.beat import beat_schedule_install
from apps.engine.bias import bias_candles, bias_check
from apps.engine.genetic import Genome, generation_next, population_initial
from apps.engine.strategies.registry import strategy_build
from apps.research.generation import SearchRequest, search_create, search_run_here
from apps.research.models import GeneratedCandidate, StrategySearch
from apps.strategies.models import Strategy
from apps.strategies.validation import strategy_config_validate
from tests.research.generation_support import minute_market_seeded
from tests.workers import celery_worker

pytestmark = pytest.mark.django_db


def small_search(account, *, seed: int, count: int = 12, generations: int = 2) -> StrategySearch:
    return search_create(
        SearchRequest(account=account.pk, symbols=["BTC/USDT"], count=count, generations=generations, seed=seed, min_trades=1)
    )


def test_a_seed_breeds_the_same_genomes_and_another_seed_others():
    def bred(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        first = population_initial(rng, 20)
        fitness = [(genome, float(len(genome.key) % 7)) for genome in first]
        second = generation_next(rng, fitness, 20, seen={g.key for g in first})
        return [g.key for g in first + second]

    assert bred(4) == bred(4)
    assert bred(4) != bred(5)
    assert len(set(bred(4))) == 40, "a search never evaluates the same candidate twice"


def test_every_genome_serialises_to_rules_params_that_pass_the_bias_checks():
    for genome in population_initial(np.random.default_rng(11), 25):
        strategy = strategy_build("rules", genome.params)
        assert Genome.from_params(strategy.params).key == genome.key
        report = bias_check(strategy, bias_candles(strategy.warmup_period + 150, seed=3), starts=6)
        assert report.passed, (genome.params, [str(f) for f in report.findings])


def test_a_search_run_twice_with_its_seed_evaluates_the_same_candidates_with_the_same_scores():
    account = minute_market_seeded(days=2)
    first, again = small_search(account, seed=9), small_search(account, seed=9)
    other = small_search(account, seed=10)
    for search in (first, again, other):
        search_run_here(search)

    def candidates(search):
        return [
            (c.generation, c.params["entry"], c.params["exit"], c.in_sample, c.out_of_sample, c.trades)
            for c in search.candidates.order_by("number")
        ]

    assert len(candidates(first)) == 12 and {c[0] for c in candidates(first)} == {0, 1}
    assert candidates(first) == candidates(again)
    assert [c[1:3] for c in candidates(first)] != [c[1:3] for c in candidates(other)]
    assert all(c.bias_passed for c in first.candidates.all())


def test_the_next_generation_breeds_on_in_sample_fitness_only():
    account = minute_market_seeded(days=2)
    search = small_search(account, seed=9)
    search_run_here(search)
    copy = small_search(account, seed=9)
    # The same in-sample fitness but other out-of-sample figures: the next generation is the same.
    for candidate, twin in zip(
        search.candidates.filter(generation=0).order_by("number"), copy.candidates.order_by("number"), strict=True
    ):
        GeneratedCandidate.objects.filter(pk=twin.pk).update(
            status="evaluated", bias_passed=True, in_sample=candidate.in_sample, out_of_sample=-5.0, trades=0
        )
    from apps.research.generation import search_advance

    search_advance(copy.pk)
    assert list(copy.candidates.filter(generation=1).order_by("number").values_list("params", flat=True)) == list(
        search.candidates.filter(generation=1).order_by("number").values_list("params", flat=True)
    )


def test_bad_settings_are_refused_all_at_once_in_a_traders_words():
    minute_market_seeded(days=2)
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("generate_strategies", "--count", "3", "--symbol", "DOGE/USDT", "--objective", "luck", stdout=out)
    message = str(refused.value)
    assert "count: must be between 10 (two per generation)" in message
    assert "objective: 'luck' is not one of" in message
    assert "DOGE/USDT" in message and "account" in message


def test_the_daily_search_is_installed_in_beat_switched_off():
    from django_celery_beat.models import PeriodicTask

    from tradedesk.celery import DEFAULT_BEAT_SCHEDULE

    name = "research: generate strategies daily"
    beat_schedule_install({name: DEFAULT_BEAT_SCHEDULE[name]})
    task = PeriodicTask.objects.get(name=name)
    assert task.task == "apps.research.tasks.strategies_generate_daily" and task.queue == "research"
    assert task.enabled is False


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_fifty_candidates_on_real_workers_become_stopped_strategies_that_pass_the_bias_checks_and_open_in_the_admin(
    admin_client,
):
    account = minute_market_seeded(days=3)
    out = StringIO()
    with celery_worker(concurrency=2):
        call_command(
            "generate_strategies",
            *("--count", "50", "--account", str(account.pk), "--symbol", "BTC/USDT", "--seed", "5"),
            *("--min-trades", "1", "--survivors", "8", "--no-progress"),
            stdout=out,
        )
    search = StrategySearch.objects.get()
    assert search.status == "finished" and search.candidates.count() == 50
    assert search.candidates.filter(status="evaluated").count() == 50, list(search.candidates.values_list("detail", flat=True))
    survivors = list(search.candidates.filter(rank__isnull=False).select_related("strategy").order_by("rank"))
    assert survivors, out.getvalue()
    assert [c.rank for c in survivors] == list(range(1, len(survivors) + 1))
    scores = [(c.out_of_sample, c.stability, c.trades) for c in survivors]
    assert [s[0] for s in scores] == sorted((s[0] for s in scores), reverse=True), "ranked by the out-of-sample objective"
    for candidate in survivors:
        strategy = candidate.strategy
        assert strategy is not None, candidate.detail
        assert strategy.status == Strategy.Status.STOPPED and strategy.kind == "rules"
        assert strategy.name.startswith(f"GA {search.pk}.{candidate.rank}: ")
        engine = strategy_build(strategy.kind, strategy.params)
        assert bias_check(engine, bias_candles(engine.warmup_period + 300, seed=1)).passed
        strategy_config_validate(
            {
                "kind": strategy.kind,
                "params": strategy.params,
                "account": strategy.account,
                "markets": list(strategy.markets.all()),
                "timeframe": strategy.timeframe,
            }
        )
        assert admin_client.get(f"/admin/strategies/strategy/{strategy.pk}/change/").status_code == 200
        assert admin_client.get(f"/admin/research/generatedcandidate/{candidate.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/research/strategysearch/{search.pk}/change/").status_code == 200
    assert f"{len(survivors)} stored as stopped strategies" in out.getvalue()


def test_a_viewer_of_the_account_reviews_its_candidates_in_the_admin_and_another_account_is_a_404(client):
    from apps.exchanges.models import ExchangeAccount
    from tests.access import desk_user

    account = minute_market_seeded(days=2)
    other = ExchangeAccount.objects.create(name="elsewhere", exchange=account.exchange, mode="paper")
    ours, theirs = small_search(account, seed=1), small_search(other, seed=1)
    client.force_login(desk_user("vera", role="viewer", accounts=[account]))
    listed = client.get("/admin/research/generatedcandidate/")
    assert listed.status_code == 200 and listed.context["cl"].result_count == ours.candidates.count() == 6
    assert client.get(f"/admin/research/generatedcandidate/{ours.candidates.first().pk}/change/").status_code == 200
    assert client.get(f"/admin/research/generatedcandidate/{theirs.candidates.first().pk}/change/").status_code == 404
    assert client.get(f"/admin/research/strategysearch/{theirs.pk}/change/").status_code == 404
