"""What the goals app hears from below: the goal-aware sizing decisions of a placement batch."""

from django.dispatch import receiver

from apps.risk.sizing import entries_sized


@receiver(entries_sized, dispatch_uid="goals: record the entries' sizing")
def entries_sized_record(sender, sizings, **_) -> None:
    from apps.goals.services import goal_adjustments_record

    goal_adjustments_record(sizings=sizings)
