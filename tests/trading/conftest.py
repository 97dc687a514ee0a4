import os

import pytest
from django.conf import settings

from tradedesk.celery import app


@pytest.fixture
def eager_tasks():
    """Tasks run in place (unit tier); the integration tier runs a real worker instead."""
    os.makedirs(settings.VAR_DIR / "celery-results", exist_ok=True)  # the file result backend checks its folder
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous
