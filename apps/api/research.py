"""The daily strategy review under /api/v1/strategy-reviews/: each running strategy's row per
day (rank, verdict, regime, figures, the rules checked, what the review did), cut to your
accounts. Promotion is a command on the strategy (`POST /strategies/<id>/promote/`)."""

import django_filters as filters

from apps.api.fast import DeskModelSerializer
from apps.api.filters import DeskFilterSet
from apps.api.views import DeskReadViewSet
from apps.exchanges.selectors import account_scoped
from apps.research.models import StrategyReview


class StrategyReviewSerializer(DeskModelSerializer):
    class Meta:
        model = StrategyReview
        fields = [
            "id",
            "day",
            "strategy",
            "account",
            "window_start",
            "window_end",
            "stage",
            "rank",
            "ranked",
            "verdict",
            "regime",
            "regime_figures",
            "trades",
            "pnl",
            "return_pct",
            "sharpe",
            "max_drawdown_pct",
            "rules",
            "action",
            "reason",
            "created_at",
        ]


class StrategyReviewFilter(DeskFilterSet):
    day = filters.DateFilter()

    class Meta:
        model = StrategyReview
        fields = ["account", "strategy", "day", "verdict", "regime", "action"]


def api_strategy_reviews(*, user):
    return account_scoped(StrategyReview.objects.all(), user=user)


class StrategyReviewViewSet(DeskReadViewSet):
    """The daily review's rows, newest day first: top performers, underperformers, activation
    candidates and breaches, with the market's regime."""

    select = api_strategy_reviews
    serializer_class = StrategyReviewSerializer
    filterset_class = StrategyReviewFilter
    ordering_fields = ["id", "day", "rank"]
    ordering = ["-day", "account", "rank"]
