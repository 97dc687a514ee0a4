"""Reads of the promotion and the daily review for the pages and the API (callers check access:
the strategy they pass is one the reader may see)."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.research.models import StrategyReview
from apps.research.promotion import NEXT_STAGE, RuleResult, promotion_rules
from apps.strategies.models import Strategy


@dataclass(frozen=True)
class PromotionView:
    stage: str
    next_stage: str | None  # None: live, the last stage
    rules: list[RuleResult] = field(default_factory=list)  # what a promotion would check now
    review: StrategyReview | None = None  # the newest daily review row

    @property
    def ready(self) -> bool:
        return self.next_stage is not None and all(rule.passed for rule in self.rules)


def strategy_promotion_view(strategy: Strategy) -> PromotionView:
    return PromotionView(
        stage=strategy.stage,
        next_stage=NEXT_STAGE.get(strategy.stage),
        rules=promotion_rules(strategy),
        review=StrategyReview.objects.filter(strategy=strategy).order_by("-day").first(),
    )
