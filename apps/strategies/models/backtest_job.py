from django.db import models

from apps.common.models import TimeStampedModel


class BacktestJob(TimeStampedModel):
    """A backtest asked for from a page or the API, run by a worker on the `research` queue:
    queued -> running (progress 0-100) -> done (its BacktestRun) or failed (why, in a trader's
    words). `request` is what was asked, already checked by the launch validation."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="backtest_jobs")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="backtest_jobs"
    )
    request = models.JSONField(help_text="The launch form's values: kind or strategy, params, markets, range, fees")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100")
    stage = models.CharField(max_length=80, blank=True, help_text="What it is doing now")
    error = models.TextField(blank=True, help_text="Why it failed, in words a trader acts on")
    result = models.OneToOneField("strategies.BacktestRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="job")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"backtest job #{self.pk} {self.request.get('strategy', '')} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
