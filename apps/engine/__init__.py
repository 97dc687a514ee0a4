"""The pure core: Python + numpy (+ TA-Lib). Never imports Django, Celery, Channels or DRF."""
