from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from apps.api import backtests, goals, performance, research, views
from apps.api.errors import not_found_view

REDOC = SpectacularRedocView.as_view(url_name="api-schema")

router = DefaultRouter(trailing_slash="/?")
router.register("accounts", views.AccountViewSet, basename="account")
router.register("markets", views.MarketViewSet, basename="market")
router.register("candles", views.CandleViewSet, basename="candle")
router.register("strategies", views.StrategyViewSet, basename="strategy")
router.register("strategy-kinds", views.StrategyKindViewSet, basename="strategy-kind")
router.register("strategy-reviews", research.StrategyReviewViewSet, basename="strategy-review")
router.register("signals", views.SignalViewSet, basename="signal")
router.register("orders", views.OrderViewSet, basename="order")
router.register("fills", views.FillViewSet, basename="fill")
router.register("positions", views.PositionViewSet, basename="position")
router.register("risk-limits", views.RiskLimitsViewSet, basename="risk-limits")
router.register("risk-events", views.RiskEventViewSet, basename="risk-event")
router.register("kill-switches", views.KillSwitchViewSet, basename="kill-switch")
router.register("portfolio-snapshots", views.PortfolioSnapshotViewSet, basename="portfolio-snapshot")
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("alert-rules", views.AlertRuleViewSet, basename="alert-rule")
router.register("audit-entries", views.AuditEntryViewSet, basename="audit-entry")
router.register("goals", goals.GoalViewSet, basename="goal")
router.register("goal-adjustments", goals.GoalAdjustmentViewSet, basename="goal-adjustment")
router.register("risk-limit-adjustments", goals.RiskLimitAdjustmentViewSet, basename="risk-limit-adjustment")
router.register("drawdown-events", goals.DrawdownEventViewSet, basename="drawdown-event")
router.register("backtests", backtests.BacktestViewSet, basename="backtest")
router.register("backtest-jobs", backtests.BacktestJobViewSet, basename="backtest-job")

urlpatterns = [
    re_path(r"^api/v1/performance/?$", performance.PerformanceView.as_view(), name="performance"),
    re_path(
        r"^api/v1/performance/accounts/(?P<account_id>[0-9]{1,18})/?$",
        performance.AccountPerformanceView.as_view(),
        name="performance-account",
    ),
    re_path(
        r"^api/v1/performance/strategies/(?P<strategy_id>[0-9]{1,18})/?$",
        performance.StrategyPerformanceView.as_view(),
        name="performance-strategy",
    ),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # ReDoc styles itself at run time (inline <style> elements) and parses the schema in a worker
    # made from a blob: on this one page the policy allows those two (without the chart's style hash, which
    # would make browsers ignore unsafe-inline), never inline scripts.
    path("api/redoc/", csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})(REDOC), name="api-redoc"),
    re_path(r"^api/v1/", not_found_view),  # the web pages own other /api/ paths (the chart's candles)
]
