"""UTC everywhere: the one parser that turns what a user, a file, a database or a task message
gives us into an aware UTC datetime."""

from datetime import UTC, datetime


def utc_datetime(value: str | datetime) -> datetime:
    """An ISO date or datetime (string) or a datetime, as an aware UTC datetime. A value
    without a zone is UTC (the desk's convention); one with a zone is converted. Raises
    ValueError for text that is not an ISO date: each caller words its own message."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
