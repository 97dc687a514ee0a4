"""Creating, changing and deleting alert rules outside the admin (the API): the trader role, and
every account, strategy and channel the rule names must be the actor's to see (else not found);
desk-wide rules (no account) are a superuser's. One validation with the admin form
(apps.alerts.validation: what a rule names is on its account); audited, refusals too."""

from django.db import transaction

from apps.alerts.models import AlertRule, Channel
from apps.alerts.validation import rule_errors
from apps.common.audit import audit_record, audit_refusals, audit_snapshot
from apps.common.errors import Invalid, NotAllowed, NotFound
from apps.exchanges.roles import Role, user_has_role
from apps.exchanges.selectors import accounts_visible_to
from apps.strategies.models import Strategy

RELATIONS = ("accounts", "markets", "strategies", "channels")


def alert_rule_save(*, actor, values: dict, rule: AlertRule | None = None, via: str | None = None) -> AlertRule:
    """`values`: name, condition, threshold, event_kinds, priority, min_priority, active, account
    (an ExchangeAccount or None) and the lists accounts, markets, strategies, channels."""
    action = "alert_rule.change" if rule else "alert_rule.add"
    with audit_refusals(
        actor=actor, via=via, action=action, object_type=AlertRule._meta.label_lower, object_id=rule.pk if rule else ""
    ):
        _authorize(actor, values, rule)
        errors = rule_errors(
            condition=_value(values, rule, "condition", ""),
            threshold=_value(values, rule, "threshold", None),
            event_kinds=_value(values, rule, "event_kinds", []),
            account=_value(values, rule, "account", None),
            **{name: _related(values, rule, name) for name in ("markets", "accounts", "strategies")},
        )
        if errors:
            raise Invalid.from_fields(errors)
        with transaction.atomic():
            before = _snapshot(rule) if rule else None
            rule = rule or AlertRule()
            for name, value in values.items():
                if name not in RELATIONS:
                    setattr(rule, name, value)
            rule.save()
            for name in RELATIONS:
                if name in values:
                    getattr(rule, name).set(values[name])
            audit_record(actor=actor, via=via, action=action, obj=rule, before=before, after=_snapshot(rule))
        return rule


def alert_rule_delete(*, actor, rule: AlertRule, via: str | None = None) -> None:
    with audit_refusals(
        actor=actor, via=via, action="alert_rule.delete", object_type=AlertRule._meta.label_lower, object_id=rule.pk
    ):
        _authorize(actor, {"account": rule.account, "accounts": list(rule.accounts.all())}, rule)
        before = _snapshot(rule)
        audit_record(actor=actor, via=via, action="alert_rule.delete", obj=rule, before=before)
        rule.delete()


def _value(values: dict, rule: AlertRule | None, name: str, default):
    """A field as it will be: the new value, else the rule's (a partial change), else the default."""
    if name in values:
        return values[name]
    return getattr(rule, name) if rule is not None else default


def _related(values: dict, rule: AlertRule | None, name: str) -> list:
    if name in values:
        return list(values[name])
    return list(getattr(rule, name).all()) if rule is not None else []


def _authorize(actor, values: dict, rule: AlertRule | None) -> None:
    if actor is None:
        return
    if not user_has_role(actor, Role.TRADER):
        raise NotAllowed(f"{actor.get_username()} may not configure alert rules: that needs the trader role.")
    if actor.is_superuser:
        return
    visible = set(accounts_visible_to(user=actor).values_list("pk", flat=True))
    owner = values.get("account", rule.account if rule else None)
    if owner is None or (rule is not None and rule.account_id is None):
        raise NotAllowed("A desk-wide rule (no account) is changed by superusers only: choose one of your accounts.")
    named = [owner, *values.get("accounts", [])]
    if missing := sorted(account.pk for account in named if account.pk not in visible):
        raise NotFound(f"no account #{missing[0]} among your accounts")
    strategies = [strategy.pk for strategy in values.get("strategies", [])]
    if foreign := sorted(Strategy.objects.filter(pk__in=strategies).exclude(account__in=visible).values_list("pk", flat=True)):
        raise NotFound(f"no strategy #{foreign[0]} on your accounts")
    channels = Channel.objects.filter(pk__in=[channel.pk for channel in values.get("channels", [])])
    if channels.exclude(account__isnull=True).exclude(account__in=visible).exists():
        raise NotFound("a channel named is not on your accounts")


def _snapshot(rule: AlertRule) -> dict:
    return audit_snapshot(rule)  # many-to-many fields as sorted ids
