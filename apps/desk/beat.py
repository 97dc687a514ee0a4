"""Install the default beat schedule into django-celery-beat's tables, once."""

import json

from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


def beat_schedule_install(schedule: dict) -> list[str]:
    """Create the missing default periodic tasks (an entry with "enabled": False is created
    switched off); never touch one that exists (the admin owns it after the first install).
    Returns the names created."""
    created = []
    for name, entry in schedule.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        PeriodicTask.objects.create(
            name=name,
            task=entry["task"],
            **_schedule(entry),
            queue=entry.get("queue"),
            kwargs=json.dumps(entry.get("kwargs", {})),
            description=entry.get("description", ""),
            enabled=entry.get("enabled", True),
        )
        created.append(name)
    return created


def _schedule(entry: dict) -> dict:
    """{"interval": ...} for "every_seconds", {"crontab": ...} (UTC) for "crontab"."""
    if "crontab" in entry:
        crontab, _ = CrontabSchedule.objects.get_or_create(**entry["crontab"], timezone="UTC")
        return {"crontab": crontab}
    interval, _ = IntervalSchedule.objects.get_or_create(every=entry["every_seconds"], period=IntervalSchedule.SECONDS)
    return {"interval": interval}
