from django.urls import path

from apps.web import health, views

urlpatterns = [
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    path("", views.dashboard, name="dashboard"),
    path("markets/<str:ref>/", views.market_page, name="market"),
    path("api/markets/<str:ref>/candles", views.market_candles, name="market-candles"),
]
