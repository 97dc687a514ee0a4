"""Goal-aware sizing at placement: the stance the goals app wrote (apps.risk.models.SizingStance)
scales an entry's value, then the hard limits cap any increase; the risk rules decide after, as
ever. Exits are never resized. Any failure sizes the entry as set (factor 1.0), logged and
recorded. The stance also carries the adaptive max-position % (never above the trader's limit)
and, while the goal drawdown protection holds, the reason new entries are refused.

The decisions of a placement batch are announced together on `entries_sized` (EntrySizings)
when placement writes its rows, which the goals app records in the same transaction; risk and
trading sit below goals and never import it.
"""

from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.dispatch import Signal

from apps.common.logging import get_logger
from apps.engine.risk_rules import Limits
from apps.risk.selectors import sizing_stance

HUNDRED = Decimal(100)
log = get_logger(__name__)
entries_sized = Signal()  # sender: EntrySizer; kwargs: sizings (list of EntrySizing)


@dataclass(frozen=True)
class EntrySizing:
    account_id: int
    signal_id: int | None
    base_size: Decimal  # quote, before the factor
    factor: Decimal
    final_size: Decimal  # quote, after the factor and the caps
    capped_by: str = ""
    factors: dict = field(default_factory=dict)
    reason: str = ""


class EntrySizer:
    """One per placement batch of an account: the stance is read once, when first needed."""

    def __init__(self, account_id: int):
        self.account_id = account_id
        self._stance, self._read = None, False
        self._sized: list[EntrySizing] = []

    def apply(self, *, signal, quote: Decimal, limits: Limits, equity: Decimal, exposure: Decimal) -> Decimal:
        """The entry's value in quote after the goal factor (`quote` unchanged without a stance).
        `limits`: those in force (limits_in_force)."""
        try:
            stance = self._stance_read()
            if stance is None:  # no active goal
                return quote
            sizing = _sized(self.account_id, signal, quote, stance, limits, equity, exposure)
        except Exception as error:
            log.exception("goal sizing failed: entry sized at factor 1.0", account=self.account_id, signal=signal.pk)
            sizing = EntrySizing(
                account_id=self.account_id,
                signal_id=signal.pk,
                base_size=quote,
                factor=Decimal(1),
                final_size=quote,
                reason=f"goal sizing failed ({type(error).__name__}: {error}): factor 1.0",
            )
        self._sized.append(sizing)
        return sizing.final_size

    def flush(self) -> None:
        """Announce the decisions so far (placement calls it where it writes its rows)."""
        if self._sized:
            sizings, self._sized = self._sized, []
            entries_sized.send_robust(sender=EntrySizer, sizings=sizings)

    def entries_paused(self) -> str:
        """Why the goal drawdown protection refuses new entries ('' when it does not)."""
        stance = self._stance_safe()
        return stance.entries_paused if stance is not None else ""

    def limits_in_force(self, limits: Limits) -> Limits:
        """The trader's limits with the stance's max-position %, when lower (the trader's wins)."""
        stance = self._stance_safe()
        if stance is None or stance.max_position_pct is None:
            return limits
        if limits.max_position_pct is not None and limits.max_position_pct <= stance.max_position_pct:
            return limits
        return replace(limits, max_position_pct=stance.max_position_pct)

    def _stance_safe(self):
        try:
            return self._stance_read()
        except Exception:
            log.exception("goal stance unreadable: limits as set", account=self.account_id)
            return None

    def _stance_read(self):
        if not self._read:
            self._stance, self._read = sizing_stance(account_id=self.account_id), True
        return self._stance


def _sized(account_id, signal, quote, stance, limits: Limits, equity: Decimal, exposure: Decimal) -> EntrySizing:
    factor = stance.factor
    final, capped_by = quote * factor, ""
    if final > quote:  # an increase never passes a hard limit (and a cap never cuts below the size as set)
        for limit, room in _rooms(limits, equity, exposure):
            if final > room:
                final, capped_by = max(quote, room), limit
    return EntrySizing(
        account_id=account_id,
        signal_id=signal.pk,
        base_size=quote,
        factor=factor,
        final_size=final,
        capped_by=capped_by,
        factors=dict(stance.factors),
        reason=stance.reason,
    )


def _rooms(limits: Limits, equity: Decimal, exposure: Decimal) -> list[tuple[str, Decimal]]:
    rooms = []
    if limits.max_order_notional is not None:
        rooms.append(("max_order_notional", limits.max_order_notional))
    if limits.max_position_pct is not None:
        rooms.append(("max_position_pct", equity * limits.max_position_pct / HUNDRED - exposure))
    return rooms
