"""Tokens in the admin: made here, the key is shown once in the message; revoked by an action."""

from django.contrib import admin, messages

from apps.api.models import ApiToken
from apps.api.tokens import api_token_create, api_token_revoke
from apps.common.audit import Via


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "scope", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["user", "name", "scope", "expires_at", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return False  # a token is made and revoked, never edited (its scope is part of what was handed out)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row is the record of what was handed out

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        made = api_token_create(actor=request.user, user=obj.user, name=obj.name, scope=obj.scope, via=Via.ADMIN)
        if obj.expires_at:  # the admin picks a date rather than a number of days
            made.token.expires_at = obj.expires_at
            made.token.save(update_fields=["expires_at"])
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            made.token.pk,
            made.token.prefix,
            made.token.key_hash,
            made.token.created_at,
        )
        messages.warning(request, f"The key of {made.token.name}, shown this once (copy it now): {made.key}")

    def log_addition(self, request, obj, message):
        pass  # the service audited it

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(actor=request.user, token_id=token.pk, via=Via.ADMIN)
        messages.success(request, f"{queryset.count()} token(s) revoked.")
