"""Readers a higher app installs for the operations surfaces (/metrics, /health/deep), so that
those surfaces never import the code that knows the answer.

- circuit breakers: `circuit_breaker_reader_set(reader)`; reader() -> {service: state}, state
  one of BREAKER_STATES. The trading app installs one that reads every sim/live account as
  closed, until the shared breaker installs its own.
- reconciliation age: `reconciliation_age_reader_set(reader)`; reader() -> {account name:
  seconds since its last successful reconciliation, or None when it never reconciled}. The
  trading app installs a reader over its `reconcile.completed` events.
"""

from collections.abc import Callable

BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

_readers: dict[str, Callable[[], dict]] = {
    "circuit_breakers": dict,
    "reconciliation_ages": dict,
}


def circuit_breaker_reader_set(reader: Callable[[], dict[str, str]]) -> None:
    _readers["circuit_breakers"] = reader


def circuit_breaker_states() -> dict[str, str]:
    return _readers["circuit_breakers"]()


def reconciliation_age_reader_set(reader: Callable[[], dict[str, float | None]]) -> None:
    _readers["reconciliation_ages"] = reader


def reconciliation_ages() -> dict[str, float | None]:
    return _readers["reconciliation_ages"]()
