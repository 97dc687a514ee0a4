"""The audit trail: `audit_record` writes one entry; `audit_snapshot` turns a row into JSON-safe
values (secrets masked) and `audit_diff` keeps what changed. Every write by a person goes
through here, from a service (operator commands, strategy status, kill switch) or from the
admin (apps.common.admin_audit)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from apps.common.errors import ApplicationError
from apps.common.fields import EncryptedTextField
from apps.common.models import AuditEntry

MASK = "••••"
Via = AuditEntry.Via
Outcome = AuditEntry.Outcome


def audit_record(
    *,
    actor,
    via: str | None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id="",
    object_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
    outcome: str = Outcome.DONE,
    reason: str = "",
) -> AuditEntry:
    """One entry. `actor` None is the system (beat, workers); a person must say through which
    interface they acted (`via`)."""
    if via is None:
        if actor is not None:
            raise TypeError("a person's action needs via= (admin, page, api or command)")
        via = Via.SYSTEM
    Via(via)  # refuse an interface that does not exist
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or (obj.pk if obj.pk is not None else "")
        object_repr = object_repr or str(obj)
    person = actor if actor is not None and actor.is_authenticated else None
    return AuditEntry.objects.create(
        who=person,
        who_name=actor.get_username() if person else ("" if actor is None else "anonymous"),
        via=via,
        action=action,
        outcome=outcome,
        reason=reason[:4000],
        object_type=object_type,
        object_id=str(object_id)[:64],
        object_repr=object_repr[:200],
        before=_json_safe(before),
        after=_json_safe(after),
    )


@contextmanager
def audit_refusals(*, actor, via: str | None, action: str, object_type: str, object_id, reason: str = "") -> Iterator[None]:
    """Record a refusal (an ApplicationError leaving the block) with its reason, then let it go
    on to the interface. Wrap it around the service's transactions, not inside them: a rolled
    back transaction would take the entry with it."""
    try:
        yield
    except ApplicationError as error:
        audit_record(
            actor=actor,
            via=via,
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_repr=f"{object_type} #{object_id}",
            outcome=Outcome.REFUSED,
            reason=f"{error.message}" + (f" (asked: {reason})" if reason else ""),
        )
        raise


def audit_snapshot(obj: models.Model, *, fields: Iterable[str] | None = None, masked: Iterable[str] = ()) -> dict:
    """The row's stored values (foreign keys as ids, many-to-many as sorted ids), JSON-safe.
    Masked fields, and every encrypted field (keys, secrets), show only whether they are set.
    Timestamps the database moves on every save (auto_now) are left out: they would be in every
    diff."""
    wanted = set(fields) if fields is not None else None
    masked = set(masked) | {field.name for field in obj._meta.concrete_fields if isinstance(field, EncryptedTextField)}
    data = {}
    for field in obj._meta.concrete_fields:
        if (wanted is not None and field.name not in wanted) or getattr(field, "auto_now", False):
            continue
        value = field.value_from_object(obj)
        data[field.name] = (MASK if value else "") if field.name in masked else value
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            if wanted is None or field.name in wanted:
                data[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return _json_safe(data)


def audit_diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Only what changed (a creation or a deletion keeps the whole row)."""
    if before is None or after is None:
        return before, after
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    return {name: before.get(name) for name in changed}, {name: after.get(name) for name in changed}


class _AuditEncoder(DjangoJSONEncoder):
    """Decimals as a trader writes them: exact, plain, no storage zeros (10, not 10.000000000000
    nor 1E+1)."""

    def default(self, o):
        if isinstance(o, Decimal) and o.is_finite():
            text = format(o, "f")
            return text.rstrip("0").rstrip(".") if "." in text else text
        return super().default(o)


def _json_safe(data):
    """Times as ISO 8601, decimals as exact strings: what the JSON column will hold, so a diff
    compares like with like."""
    return None if data is None else json.loads(json.dumps(data, cls=_AuditEncoder))
