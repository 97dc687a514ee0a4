from django.contrib import admin

from apps.common.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The trail is read, never written, here: no add, no change, no delete."""

    list_display = ("at", "who_name", "via", "action", "outcome", "object_type", "object_repr", "reason")
    list_filter = ("via", "outcome", "action", "object_type")
    search_fields = ("who_name", "object_repr", "object_id", "reason")
    date_hierarchy = "at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
