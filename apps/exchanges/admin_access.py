"""Who sees and changes what in the admin: one mixin for every account-scoped model.

Lists and forms hold only the rows of the user's accounts (membership; superusers see all),
and a row outside them is a 404 by URL, exactly as if it did not exist. What the user may do
is Django's model permissions, which the role groups grant (apps.exchanges.roles). An action
the user may not run is refused with 403, also when its POST is forged, and the refusal is an
audit entry (outcome refused) like every other attempt by a person.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from apps.common.audit import Outcome, Via, audit_record
from apps.exchanges.selectors import account_path_of, account_scoped


class AccountScopedAdmin:
    """Mix in before admin.ModelAdmin (or a subclass): `class OrderAdmin(AccountScopedAdmin, ReadOnlyAdmin)`."""

    account_paths: tuple[str, ...] = ("account",)
    # Rows tied to no account (the global kill switch, desk-wide limits) are shown to every
    # reader but changed by superusers only: they act on accounts the user may not be a member of.
    shared_rows = False

    def get_queryset(self, request):
        return account_scoped(
            super().get_queryset(request), user=request.user, paths=self.account_paths, shared_rows=self.shared_rows
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:  # not among the user's accounts, or no such row: the same answer
            raise Http404("No such object among your accounts.")
        return obj

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.row_is_reachable(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.row_is_writable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.row_is_writable(request, obj)

    def row_is_reachable(self, request, obj) -> bool:
        if obj is None or obj.pk is None or request.user.is_superuser:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def row_is_writable(self, request, obj) -> bool:
        if obj is not None and self.row_is_shared(obj):
            return request.user.is_superuser
        return self.row_is_reachable(request, obj)

    def action_rows_check(self, request, queryset, permission: str) -> None:
        """Inside an action: the user holds `permission` and may change every selected row, or 403."""
        action = request.POST.get("action", permission)
        if not request.user.has_perm(permission):
            self.refuse(request, action, "Your role may not do this.")
        refused = [obj for obj in queryset if not self.row_is_writable(request, obj)]
        if refused:
            self.refuse(request, action, f"Not yours to change: {', '.join(map(str, refused))}.", ids=[o.pk for o in refused])

    def refuse(self, request, action: str, message: str, *, ids=()) -> None:
        """Audit the refused attempt (outside any transaction of the admin's, which would roll
        it back), then answer 403."""
        audit_record(
            actor=request.user,
            via=Via.ADMIN,
            action=f"admin.{action}",
            object_type=self.model._meta.label_lower,
            object_id=",".join(map(str, ids)),
            object_repr=f"{self.model._meta.verbose_name_plural} {', '.join(map(str, ids))}".strip(),
            outcome=Outcome.REFUSED,
            reason=message,
        )
        raise PermissionDenied(message)

    def row_is_shared(self, obj) -> bool:
        if not self.shared_rows:
            return False
        return all(getattr(obj, obj._meta.get_field(path.split("__")[0]).attname) is None for path in self.account_paths)

    def save_form(self, request, form, change):
        """A row of no account is a superuser's, also when created or moved there by a form."""
        obj = super().save_form(request, form, change)
        if self.row_is_shared(obj) and not request.user.is_superuser:
            raise PermissionDenied("Only a superuser changes what applies to every account; choose one of your accounts.")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Choices are the user's accounts (and what belongs to them), so a POST cannot name another's."""
        path = account_path_of(db_field.related_model)
        if path is not None and "queryset" not in kwargs:
            kwargs["queryset"] = account_scoped(db_field.related_model._default_manager.all(), user=request.user, paths=(path,))
        if self.shared_rows and self.account_paths == (db_field.name,) and not request.user.is_superuser:
            kwargs["required"] = True  # leaving it blank would make the row everybody's
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        """The same for many-to-many choices (a rule's accounts, strategies, channels); rows of no
        account (a desk-wide channel) stay choosable where the relation allows them."""
        related = db_field.related_model
        path = account_path_of(related)
        if path is not None and "queryset" not in kwargs:
            shared = path != "pk" and related._meta.get_field(path).null
            kwargs["queryset"] = account_scoped(
                related._default_manager.all(), user=request.user, paths=(path,), shared_rows=shared
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        """Filter choices from the rows the user sees: an "account" filter lists only its accounts."""
        return [
            (entry, admin.RelatedOnlyFieldListFilter) if isinstance(entry, str) and self._names_scoped_relation(entry) else entry
            for entry in super().get_list_filter(request)
        ]

    def _names_scoped_relation(self, name: str) -> bool:
        field = self.model._meta.get_field(name) if "__" not in name else None
        return field is not None and field.is_relation and account_path_of(field.related_model) is not None

    def changelist_view(self, request, extra_context=None):
        """An action the user may not run is absent from its menu; a POST naming it anyway gets 403."""
        action = request.POST.get("action") if request.method == "POST" else None
        if action and action not in self.get_actions(request) and action in self._declared_action_names():
            self.refuse(request, action, f"You may not run {action!r} here.", ids=request.POST.getlist("_selected_action"))
        if action == "delete_selected":  # a desk-wide row among them is a superuser's to delete
            selected = self.get_queryset(request)
            if request.POST.get("select_across") != "1":  # "select all": every row the user sees
                selected = selected.filter(pk__in=request.POST.getlist("_selected_action"))
            self.action_rows_check(request, selected, f"{self.opts.app_label}.delete_{self.opts.model_name}")
        return super().changelist_view(request, extra_context)

    def _declared_action_names(self) -> set[str]:
        names = {getattr(action, "__name__", action) for action in (self.actions or ())}
        return names | {name for name, _ in self.admin_site.actions}
