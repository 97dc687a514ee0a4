from django.urls import path

from apps.web import health, pages, views

urlpatterns = [
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    path("", pages.desk, name="dashboard"),
    path("markets/", pages.markets, name="markets"),
    path("markets/<str:ref>/", views.market_page, name="market"),
    path("api/markets/<str:ref>/candles", views.market_candles, name="market-candles"),
    path("positions/", pages.positions, name="positions"),
    path("positions/<int:position_id>/close", pages.position_close_action, name="position-close"),
    path("accounts/<int:account_id>/flatten", pages.account_flatten_action, name="account-flatten"),
    path("accounts/<int:account_id>/kill-switch", pages.kill_switch_action, name="kill-switch"),
    path("risk/kill-switch", pages.kill_switch_action, name="kill-switch-global"),
    path("orders/", pages.orders, name="orders"),
    path("orders/<int:order_id>/cancel", pages.order_cancel_action, name="order-cancel"),
    path("signals/", pages.signals, name="signals"),
    path("risk/", pages.risk, name="risk"),
    path("risk/events/<int:risk_event_id>/acknowledge", pages.risk_acknowledge_action, name="risk-acknowledge"),
    path("strategies/<int:strategy_id>/", pages.strategy, name="strategy"),
    path("strategies/<int:strategy_id>/status", pages.strategy_status_action, name="strategy-status"),
    path("performance/", pages.performance_page, name="performance"),
    path("data/", pages.data, name="data"),
    path("live/banners", pages.banners, name="live-banners"),
    path("data/collectors/<int:collector_id>/active", pages.collector_active_action, name="collector-active"),
]
