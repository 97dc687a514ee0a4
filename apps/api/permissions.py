"""What a request may do: the user's role capped by the token's scope (a token never has more
rights than its user), and a `read` token never writes. Which objects it sees is membership
(the viewsets' querysets); what the services allow is checked again by each service."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.api.models import ApiToken
from apps.exchanges.roles import Role, user_role


def effective_role(request) -> Role:
    role = user_role(request.user)
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return min(role, token.scope_role) if token is not None else role


class DeskAccess(BasePermission):
    """Authenticated; writes need a token scope of trade or more; a view's `required_role`
    (admin for the audit trail), or its `action_roles` entry for the action (admin to create or
    edit strategies and risk limits), is checked against the effective role."""

    message = "You may not do this."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if request.method not in SAFE_METHODS and token is not None and token.scope_role < Role.TRADER:
            self.message = "This API token has the read scope: it cannot send commands. Use a token with the trade scope."
            return False
        required = getattr(view, "action_roles", {}).get(getattr(view, "action", None), getattr(view, "required_role", Role.NONE))
        # Role.NONE is the least of roles: no need to read the user's groups to compare with it
        if required > Role.NONE and effective_role(request) < required:
            self.message = f"This needs the {required.group_name} role (on the user and in the token's scope)."
            return False
        return True
