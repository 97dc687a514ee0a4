"""Install the default beat schedule into django-celery-beat's tables, once."""

import json

from django_celery_beat.models import IntervalSchedule, PeriodicTask


def beat_schedule_install(schedule: dict) -> list[str]:
    """Create the missing default periodic tasks; never touch one that exists (the admin
    owns it after the first install). Returns the names created."""
    created = []
    for name, entry in schedule.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=entry["every_seconds"], period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(
            name=name,
            task=entry["task"],
            interval=interval,
            queue=entry.get("queue"),
            kwargs=json.dumps(entry.get("kwargs", {})),
            description=entry.get("description", ""),
        )
        created.append(name)
    return created
