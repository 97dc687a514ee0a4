FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt && apt-get update && apt-get install -y --no-install-recommends procps postgresql-client && rm -rf /var/lib/apt/lists/*
COPY . .
# The named volumes (metrics, logs, backups) take these folders' owner when first mounted.
RUN useradd --create-home desk && mkdir -p var/metrics var/log var/backups && chown -R desk var
USER desk
EXPOSE 8000 8765
CMD ["python", "-m", "uvicorn", "tradedesk.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
