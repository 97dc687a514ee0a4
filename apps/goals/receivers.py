"""What the goals app hears from below: each goal-aware sizing decision placement made."""

from django.dispatch import receiver

from apps.risk.sizing import entry_sized


@receiver(entry_sized, dispatch_uid="goals: record the entry's sizing")
def entry_sized_record(sender, sizing, **_) -> None:
    from apps.goals.services import goal_adjustment_record

    goal_adjustment_record(sizing=sizing)
