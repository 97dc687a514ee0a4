"""Reads about accounts that every surface shares: which accounts a user may see."""

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet

from apps.exchanges.models import ExchangeAccount


def accounts_visible_to(*, user) -> QuerySet[ExchangeAccount]:
    """Superusers see every account, members their accounts, everybody else none."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ExchangeAccount.objects.none()
    if user.is_superuser:
        return ExchangeAccount.objects.all()
    return ExchangeAccount.objects.filter(memberships__user=user)


def account_is_visible_to(*, user, account_id: int) -> bool:
    return accounts_visible_to(user=user).filter(pk=account_id).exists()


def account_scoped(queryset: QuerySet, *, user, paths: tuple[str, ...] = ("account",), shared_rows: bool = False) -> QuerySet:
    """The rows of `queryset` that belong to an account the user sees, through any of `paths`
    ("account", "order__account", "pk" for the accounts themselves).

    shared_rows: rows tied to no account at all (the global kill switch, desk-wide risk limits)
    are shown too: they act on every account, so every reader must know them."""
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    visible = accounts_visible_to(user=user).values("pk")
    scope = Q()
    for path in paths:
        scope |= Q(**{f"{path}__in": visible})
    if shared_rows:
        scope |= Q(**{f"{path.split('__')[0]}__isnull": True for path in paths})
    return queryset.filter(scope)


def account_path_of(model) -> str | None:
    """How rows of `model` reach their account, when it is the account or has an `account` field."""
    if model is ExchangeAccount:
        return "pk"
    try:
        field = model._meta.get_field("account")
    except FieldDoesNotExist:
        return None
    return "account" if getattr(field, "related_model", None) is ExchangeAccount else None
