"""Reads about accounts that every surface shares: which accounts a user may see."""

from django.db.models import QuerySet

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
