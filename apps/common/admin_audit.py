"""Admin edits are audited: a ModelAdmin mixin that diffs the stored row before the edit
against it after (many-to-many included), and records additions and deletions whole.

Secrets never reach the trail: encrypted fields and `audit_masked_fields` show only whether
they are set, and a replaced secret shows as "(replaced)"."""

from apps.common.audit import Via, audit_diff, audit_record, audit_snapshot
from apps.common.fields import EncryptedTextField


class AuditedAdminMixin:
    audit_masked_fields: tuple[str, ...] = ()
    # False where save_model calls a service that writes its own entry (one entry per change).
    audit_saves = True

    def save_model(self, request, obj, form, change):
        if self.audit_saves:
            stored = type(obj)._default_manager.filter(pk=obj.pk).first() if change and obj.pk else None
            obj._audit_before = (self._audit_snapshot(stored) if stored else None, self._audit_secrets(stored))
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        """After the many-to-many fields are saved: the after-image is the whole edit."""
        super().save_related(request, form, formsets, change)
        obj = form.instance
        if not self.audit_saves or not hasattr(obj, "_audit_before"):
            return
        before, secrets = obj.__dict__.pop("_audit_before")
        after = self._audit_snapshot(obj)
        for name, old in secrets.items():
            new = getattr(obj, name)
            if new != old:
                after[name] = "(replaced)" if new else "(cleared)"
        before, after = audit_diff(before, after)
        if change and not after:
            return  # saved without a change
        audit_record(
            actor=request.user,
            via=Via.ADMIN,
            action="admin.change" if change else "admin.add",
            obj=obj,
            before=before,
            after=after,
        )

    def delete_model(self, request, obj):
        before, label, pk, text = self._audit_snapshot(obj), obj._meta.label_lower, obj.pk, str(obj)
        super().delete_model(request, obj)
        audit_record(
            actor=request.user,
            via=Via.ADMIN,
            action="admin.delete",
            object_type=label,
            object_id=pk,
            object_repr=text,
            before=before,
        )

    def delete_queryset(self, request, queryset):
        """The changelist's "delete selected" action."""
        rows = [(obj._meta.label_lower, obj.pk, str(obj), self._audit_snapshot(obj)) for obj in queryset]
        super().delete_queryset(request, queryset)
        for label, pk, text, before in rows:
            audit_record(
                actor=request.user,
                via=Via.ADMIN,
                action="admin.delete",
                object_type=label,
                object_id=pk,
                object_repr=text,
                before=before,
            )

    def _audit_snapshot(self, obj) -> dict:
        return audit_snapshot(obj, masked=self.audit_masked_fields)

    def _audit_secrets(self, stored) -> dict:
        """The stored secrets (kept in memory only, to tell whether the edit replaced them)."""
        names = set(self.audit_masked_fields) | {
            field.name for field in self.model._meta.concrete_fields if isinstance(field, EncryptedTextField)
        }
        return {name: getattr(stored, name) if stored else "" for name in names}
