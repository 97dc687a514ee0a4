from django.urls import path

from apps.strategies.backtests import views

urlpatterns = [
    path("backtests/<int:pk>/report", views.backtest_report, name="backtest-report"),
]
