"""The worker's heartbeat: beat queues it every few seconds; running it is the sign of life."""

import socket

from celery import shared_task

from apps.common.heartbeats import heartbeat_record


@shared_task(ignore_result=True, expires=30)
def worker_heartbeat() -> None:
    heartbeat_record(name=f"worker@{socket.gethostname()}")
