import pytest

from apps.engine.order_fsm import (
    TERMINAL,
    IllegalTransitionError,
    status_from_exchange,
    transition,
)
from apps.engine.order_fsm import OrderStatus as S


def test_an_order_walks_the_happy_path_from_new_to_filled():
    status = S.NEW
    for target in (S.SUBMITTING, S.OPEN, S.PARTIALLY_FILLED, S.FILLED):
        status = transition(status, target)
    assert status == S.FILLED


@pytest.mark.parametrize(
    "current,target",
    [
        (S.NEW, S.FILLED),  # never sent, cannot be filled
        (S.FILLED, S.CANCELED),
        (S.REJECTED, S.SUBMITTING),
        (S.OPEN, S.SUBMITTING),  # a booked order is never sent again
        (S.CANCELED, S.OPEN),
    ],
)
def test_an_illegal_transition_raises(current, target):
    with pytest.raises(IllegalTransitionError, match=f"from {current.value} to {target.value}"):
        transition(current, target)


def test_an_unknown_order_is_left_only_by_what_the_exchange_says_or_a_proven_resend():
    assert transition(S.UNKNOWN, S.FILLED) == S.FILLED
    assert transition(S.UNKNOWN, S.SUBMITTING) == S.SUBMITTING
    with pytest.raises(IllegalTransitionError):
        transition(S.UNKNOWN, S.NEW)


def test_terminal_states_are_final():
    assert TERMINAL == {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED}


def test_exchange_statuses_map_to_ours():
    assert status_from_exchange(status="closed", filled=1, amount=1) == S.FILLED
    assert status_from_exchange(status="open", filled=0.5, amount=1) == S.PARTIALLY_FILLED
    assert status_from_exchange(status="open", filled=0, amount=1) == S.OPEN
    assert status_from_exchange(status="canceled", filled=0.2, amount=1) == S.CANCELED
