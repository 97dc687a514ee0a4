"""What each role may do with alerts. The role groups are apps.exchanges.roles'; this app adds
its own permissions to them (that module lists the trading apps only):

viewer  sees alerts and their deliveries of its accounts;
trader  also acknowledges, resolves and snoozes them;
admin   also configures channels and rules.
"""

from apps.exchanges.roles import Role

VIEWER = {"view_alert", "view_delivery", "view_channel", "view_alertrule"}
TRADER = VIEWER | {"acknowledge_alert"}
ADMIN = TRADER | {f"{action}_{model}" for action in ("add", "change", "delete") for model in ("channel", "alertrule")}
ROLE_PERMISSIONS = {Role.VIEWER: VIEWER, Role.TRADER: TRADER, Role.ADMIN: ADMIN}


def alert_permissions_grant() -> None:
    """Idempotent: adds (never removes) the alerts permissions to the role groups."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    create_permissions(apps.get_app_config("alerts"), verbosity=0)
    known = {p.codename: p for p in Permission.objects.filter(content_type__app_label="alerts")}
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.group_name)
        group.permissions.add(*(known[name] for name in sorted(codenames) if name in known))
