"""Strategies made before stages existed take the stage their account's mode says they are
in: on a live account they already trade real money (live); on a paper or sim account they
trade no real money (paper, their paper period counted from their creation). New strategies
are candidates until promoted."""

from django.db import migrations
from django.db.models import F

LIVE_MODES = ("live",)


def stages_set(apps, schema_editor):
    Strategy = apps.get_model("strategies", "Strategy")
    Strategy.objects.filter(account__mode__in=LIVE_MODES).update(stage="live", stage_changed_at=F("created_at"))
    Strategy.objects.exclude(account__mode__in=LIVE_MODES).update(stage="paper", stage_changed_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("strategies", "0006_strategy_stage_and_promotion_policy")]

    operations = [migrations.RunPython(stages_set, migrations.RunPython.noop)]
