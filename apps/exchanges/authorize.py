"""The one check a write service makes before it acts on an account: the actor sees the account
(membership, apps.exchanges.selectors) and holds the role (apps.exchanges.roles). The system
(actor None: beat, workers) is always allowed.

An account the actor does not see is NotFound, as every surface answers (outside = 404); a
member without the role is NotAllowed, in words that say which role is needed."""

from apps.common.errors import NotAllowed, NotFound
from apps.exchanges.roles import Role, user_has_role, user_role
from apps.exchanges.selectors import account_is_visible_to


def account_action_authorize(*, actor, account_id: int | None, role: Role, doing: str, missing: str) -> None:
    """`doing`: what was asked ("close positions"); `missing`: the NotFound message, naming the
    object the actor asked for as they named it ("no position #12 on your accounts").
    `account_id` None is the desk as a whole (the global kill switch): admins only."""
    if actor is None:
        return
    if account_id is None:
        if not user_has_role(actor, Role.ADMIN):
            raise NotAllowed(f"{actor.get_username()} may not {doing}: that needs the admin role.")
        return
    if not account_is_visible_to(user=actor, account_id=account_id):
        raise NotFound(missing)
    if not user_has_role(actor, role):
        held = user_role(actor)
        raise NotAllowed(
            f"{actor.get_username()} may not {doing}: that needs the {role.group_name} role "
            f"({'yours is ' + held.group_name if held else 'you hold no role on the desk'})."
        )
