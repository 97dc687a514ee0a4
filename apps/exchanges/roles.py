"""Who may do what: three roles as Django groups, each including the one before it.

viewer  reads the data of its accounts;
trader  also starts/pauses/stops strategies, closes positions, cancels orders, sets the
        kill switch and acknowledges / resolves / snoozes the alerts of its accounts;
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


# --- The groups and their permissions ---------------------------------------------------------
# The three groups are the code's definition of the roles: `role_groups_ensure` creates them and
# adds these permissions (never removes one). Give a person other rights through another group.

DESK_APPS = ("markets", "exchanges", "strategies", "trading", "risk", "alerts", "research")
# Who else is a member of an account is the administrators' business, not a reader's.
ADMIN_ONLY_MODELS = {("exchanges", "accountmembership")}
TRADER_PERMISSIONS = (
    ("strategies", "change_strategy_status"),
    ("trading", "close_position"),
    ("trading", "cancel_order"),
    ("risk", "set_kill_switch"),
    ("alerts", "acknowledge_alert"),
)
# Users: an admin adds people and gives them roles and accounts; superuser status and single
# permissions stay with superusers (apps.exchanges.admin refuses them to an admin).
ADMIN_USER_PERMISSIONS = (("auth", "view_user"), ("auth", "add_user"), ("auth", "change_user"), ("auth", "view_group"))


def role_permissions(apps) -> dict[Role, set[tuple[str, str]]]:
    """(app label, codename) pairs per role, from the desk's models as `apps` has them."""
    viewer, every = set(), set()
    for label in DESK_APPS:
        if label not in {config.label for config in apps.get_app_configs()}:
            continue  # a migration older than the app (its permissions come after the migrate)
        for model in apps.get_app_config(label).get_models():
            meta = model._meta
            every.update((label, f"{action}_{meta.model_name}") for action in meta.default_permissions)
            every.update((label, codename) for codename, _ in meta.permissions)
            if (label, meta.model_name) not in ADMIN_ONLY_MODELS and "view" in meta.default_permissions:
                viewer.add((label, f"view_{meta.model_name}"))
    trader = viewer | set(TRADER_PERMISSIONS)
    return {Role.VIEWER: viewer, Role.TRADER: trader, Role.ADMIN: every | trader | set(ADMIN_USER_PERMISSIONS)}


def role_groups_ensure(apps=None) -> None:
    """Create the viewer/trader/admin groups if missing and give each its permissions.
    Idempotent. `apps` is the migration's app registry in a data migration, else the live one."""
    from django.apps import apps as live_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or live_apps
    for app_config in apps.get_app_configs():  # permissions are made after migrations; make them now
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True  # a migration's app stubs have none
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    known = {(p.content_type.app_label, p.codename): p for p in Permission.objects.select_related("content_type")}
    for role, wanted in role_permissions(apps).items():
        group, _ = Group.objects.get_or_create(name=role.group_name)
        group.permissions.add(*(known[pair] for pair in sorted(wanted) if pair in known))
