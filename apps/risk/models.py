"""Risk limits (per account and per strategy), kill switches and every risk decision."""

from django.db import models

from apps.engine.risk_rules import KillState

PCT = {"max_digits": 8, "decimal_places": 4, "null": True, "blank": True}


class RiskLimits(models.Model):
    """Limits for an account, or for one strategy (its values override the account's where set)."""

    account = models.OneToOneField(
        "exchanges.ExchangeAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="risk_limits"
    )
    strategy = models.OneToOneField(
        "strategies.Strategy", on_delete=models.CASCADE, null=True, blank=True, related_name="risk_limits"
    )
    max_order_notional = models.DecimalField(
        max_digits=30, decimal_places=12, null=True, blank=True, help_text="Quote currency; blank = no limit"
    )
    max_position_pct = models.DecimalField(**PCT, help_text="Largest position per market, % of equity")
    max_open_positions = models.PositiveIntegerField(null=True, blank=True)
    max_daily_loss_pct = models.DecimalField(
        **PCT, help_text="Entries stop once today's loss reaches this % of the day's starting equity"
    )
    max_drawdown_pct = models.DecimalField(**PCT, help_text="Entries stop once equity is this % below its peak")
    max_price_deviation_pct = models.DecimalField(
        **PCT, help_text="Refuse entries whose price is this % away from the last price (default 0.5)"
    )
    max_orders_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Order rate cap (default 100/min); also caps each strategy's signals a minute"
    )
    max_consecutive_failures = models.PositiveIntegerField(
        null=True, blank=True, help_text="Pause the strategy after this many failures in a row (default 10)"
    )

    class Meta:
        verbose_name_plural = "risk limits"

    def __str__(self):
        return f"limits for {self.strategy or self.account}"

    # Limits are checked by apps.risk.validation.risk_limits_validate, the one validation the
    # admin form and the API share (every bad field at once).


class KillSwitch(models.Model):
    """One per account, and one global (account empty). Read under the account's lock before
    every order, so a change takes effect before the next order."""

    account = models.OneToOneField(
        "exchanges.ExchangeAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="kill_switch"
    )
    state = models.CharField(
        max_length=12, choices=[(s.value, s.name.replace("_", " ")) for s in KillState], default=KillState.ACTIVE.value
    )
    reason = models.CharField(max_length=300, blank=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "kill switches"
        permissions = [("set_kill_switch", "Can set the kill switch of an account")]

    def __str__(self):
        return f"{self.account or 'GLOBAL'}: {self.state}"


class RiskEvent(models.Model):
    """Every risk decision (allowed or not) with its reasons, plus desk actions (pauses, halts)."""

    class Decision(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        REJECTED = "rejected", "Rejected"
        ACTION = "action", "Action taken"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    account = models.ForeignKey(
        "exchanges.ExchangeAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="risk_events"
    )
    strategy = models.ForeignKey(
        "strategies.Strategy", on_delete=models.SET_NULL, null=True, blank=True, related_name="risk_events"
    )
    signal = models.ForeignKey("trading.Signal", on_delete=models.SET_NULL, null=True, blank=True, related_name="risk_events")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    rules = models.JSONField(default=list, blank=True, help_text="The rules that failed (or the action)")
    reason = models.TextField()
    checks = models.JSONField(default=list, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True, help_text="When a person said they have seen it")
    acknowledged_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.decision}: {self.reason[:80]}"


class SizingStance(models.Model):
    """The goal-aware sizing factor in force for an account, written by the goals app (which
    sits above trading) and read by placement before the hard limits, which always win: an
    entry's size is multiplied by `factor`. No row: factor 1.0."""

    account = models.OneToOneField("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="sizing_stance")
    factor = models.DecimalField(max_digits=6, decimal_places=4, default=1)
    factors = models.JSONField(default=dict, blank=True, help_text="The parts of the factor (pace, early month, preservation)")
    reason = models.TextField(blank=True)
    stance = models.CharField(max_length=12, blank=True, help_text="The adaptive risk stance (aggressive ... protective)")
    max_position_pct = models.DecimalField(
        **PCT, help_text="The stance's max position % of equity; the trader's risk limit, when lower, still wins"
    )
    entries_paused = models.TextField(
        blank=True, help_text="Why new entries are refused (the goal drawdown protection); blank: entries allowed"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.account}: sizing x{self.factor}"
