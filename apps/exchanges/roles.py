"""Who may do what: three roles as Django groups, each including the one before it.

viewer  reads the data of its accounts;
trader  also starts/pauses/stops strategies, closes positions, cancels orders and sets the
        kill switch of its accounts;
admin   everything, including accounts, keys, risk limits and users.
Superusers hold every role. Which accounts a user sees is membership (selectors), not role.
"""

from enum import IntEnum


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    TRADER = 2
    ADMIN = 3

    @property
    def group_name(self) -> str:
        return self.name.lower()


ROLE_GROUPS = {role.group_name: role for role in (Role.VIEWER, Role.TRADER, Role.ADMIN)}


def user_role(user) -> Role:
    """The highest role the user's groups give (cached on the user object for the request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Role.NONE
    if user.is_superuser:
        return Role.ADMIN
    cached = getattr(user, "_desk_role", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = max((role for name, role in ROLE_GROUPS.items() if name in names), default=Role.NONE)
        user._desk_role = cached
    return cached


def user_has_role(user, role: Role) -> bool:
    return user_role(user) >= role
