"""Financial goals a trader sets, their daily snapshots and every goal-aware sizing decision.
The rules are pure (apps/engine/goals.py); money is Decimal here, ratios are floats."""

from django.db import models

from apps.common.models import TimeStampedModel
from apps.engine import goals as rules

MONEY = {"max_digits": 30, "decimal_places": 12}


class Goal(TimeStampedModel):
    """A target for one account, or for all accounts together (account empty). Currency: the
    account's quote. Checked by apps.goals.validation.goal_validate (admin form, API)."""

    class Kind(models.TextChoices):
        MONTHLY_RETURN = rules.MONTHLY_RETURN, "Monthly return"
        MONTHLY_INCOME = rules.MONTHLY_INCOME, "Monthly income"
        PORTFOLIO_VALUE = rules.PORTFOLIO_VALUE, "Portfolio value"

    account = models.ForeignKey(
        "exchanges.ExchangeAccount",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="goals",
        help_text="Blank: all accounts together",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    target = models.DecimalField(**MONEY, help_text="Monthly return: a fraction (0.10 = 10 %); income and value: quote currency")
    deadline = models.DateTimeField(null=True, blank=True, help_text="Portfolio value only: when the target is due")
    set_value = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        editable=False,
        help_text="Equity when the goal was activated: the start of the path to the deadline",
    )
    set_at = models.DateTimeField(null=True, blank=True, editable=False)
    active = models.BooleanField(default=False)
    catch_up_enabled = models.BooleanField(
        default=False,
        help_text=(
            "Let this goal raise entry sizes (up to x1.3) when behind pace. Off: a goal only ever makes the desk more careful."
        ),
    )

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self):
        scope = self.account.name if self.account_id else "all accounts"
        return f"{self.get_kind_display()} {self.target.normalize():f} ({scope})"


class GoalSnapshot(models.Model):
    """A goal's progress at the end of one day (UTC); one per goal and day."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField()
    taken_at = models.DateTimeField()
    value = models.DecimalField(**MONEY, help_text="Equity (all accounts of the goal) when taken")
    current = models.DecimalField(**MONEY, help_text="The month's return (fraction), the month's realized income or the equity")
    month_start_value = models.DecimalField(**MONEY, null=True, blank=True)
    progress = models.FloatField()
    expected = models.FloatField(null=True, blank=True)
    pace_ratio = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=[(status.value, status.value.replace("_", " ")) for status in rules.Status])

    class Meta:
        ordering = ["-day", "goal_id"]
        constraints = [models.UniqueConstraint(fields=["goal", "day"], name="goal_snapshot_once_a_day")]

    def __str__(self):
        return f"{self.goal} on {self.day}: {self.status}"


class GoalAdjustment(models.Model):
    """One goal-aware sizing decision on an entry: the size before, each factor, the size after
    and the hard limit that capped it, if one did."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="goal_adjustments")
    signal = models.ForeignKey(
        "trading.Signal", on_delete=models.SET_NULL, null=True, blank=True, related_name="goal_adjustments"
    )
    base_size = models.DecimalField(**MONEY, help_text="The entry's value in quote before the goal factor")
    pace_factor = models.FloatField(null=True, blank=True)
    early_month_factor = models.FloatField(null=True, blank=True)
    preservation_factor = models.FloatField(null=True, blank=True)
    final_factor = models.DecimalField(max_digits=6, decimal_places=4)
    final_size = models.DecimalField(**MONEY, help_text="The entry's value in quote after the factor and the hard limits")
    capped_by = models.CharField(max_length=40, blank=True, help_text="The hard limit that capped the size, if any")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"x{self.final_factor}: {self.base_size.normalize():f} -> {self.final_size.normalize():f}"


class RiskLimitAdjustment(models.Model):
    """A change of the adaptive risk stance of an account: the max-position % it put in force
    (never above the trader's RiskLimits value, `base`)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="risk_limit_adjustments")
    stance = models.CharField(max_length=12)
    limit = models.DecimalField(max_digits=8, decimal_places=4, help_text="Max position % of equity in force")
    base = models.DecimalField(
        max_digits=8, decimal_places=4, null=True, blank=True, help_text="The trader's max position % (blank: none set)"
    )
    progress = models.FloatField(null=True, blank=True, help_text="The mean pace ratio, or the portfolio share when protective")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.stance}: max position {self.limit.normalize():f} %"


class DrawdownEvent(models.Model):
    """A breach of the goal drawdown protection, once per account, month and level; entries stay
    refused until the month ends or a trader clears it."""

    class Level(models.TextChoices):
        PAUSE_NEW = rules.PAUSE_NEW, "Pause new entries"
        REDUCE = rules.REDUCE, "Reduce every position by half"
        CLOSE_ALL = rules.CLOSE_ALL, "Close everything"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="drawdown_events")
    month = models.DateField(help_text="Day 1 of the month the peak belongs to")
    level = models.CharField(max_length=10, choices=Level.choices)
    stance = models.CharField(max_length=12, help_text="normal (5 % limit) or protective (2 %, near a portfolio target)")
    limit = models.FloatField()
    actual = models.FloatField(help_text="(month peak - equity) / month peak")
    value = models.DecimalField(**MONEY)
    peak = models.DecimalField(**MONEY)
    actions = models.JSONField(default=list, blank=True, help_text="What the desk did, in words")
    reason = models.TextField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "month", "level"], name="drawdown_event_once_a_month_per_level")
        ]

    def __str__(self):
        return f"{self.account} {self.month:%Y-%m} {self.level}: {self.actual:.2%} (limit {self.limit:.0%})"
