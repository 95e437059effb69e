"""People, roles and sessions in the admin. Changes need a recent re-authentication."""

from allauth.account.decorators import reauthentication_required
from allauth.usersessions.models import UserSession
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.decorators import method_decorator

from accounts import access, services
from accounts.models import ServiceToken

User = get_user_model()

# Any write (a save, a delete, an action) asks for the password or a second factor again
# if the last one is older than ACCOUNT_REAUTHENTICATION_TIMEOUT; reading does not.
reauthenticate_before_writes = method_decorator(reauthentication_required(allow_get=True))


class AdminRoleMixin:
    """People, sessions and tokens are the admin role's work: the role grants them,
    without per-model permissions (a superuser keeps them too)."""

    def has_module_permission(self, request) -> bool:
        return access.is_admin(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return access.is_admin(request.user) or super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return access.is_admin(request.user) or super().has_change_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return access.is_admin(request.user) or super().has_add_permission(request)


admin.site.unregister(User)
admin.site.unregister(UserSession)


@admin.register(User)
class PersonAdmin(AdminRoleMixin, UserAdmin):
    actions = ["deactivate_and_end_sessions"]
    list_display = ("username", "email", "is_active", "is_staff", "last_login")

    @reauthenticate_before_writes
    def changeform_view(self, request, *args, **kwargs):
        return super().changeform_view(request, *args, **kwargs)

    @reauthenticate_before_writes
    def changelist_view(self, request, *args, **kwargs):
        return super().changelist_view(request, *args, **kwargs)

    @reauthenticate_before_writes
    def delete_view(self, request, *args, **kwargs):
        return super().delete_view(request, *args, **kwargs)

    @reauthenticate_before_writes
    def user_change_password(self, request, *args, **kwargs):
        return super().user_change_password(request, *args, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        changed = set(form.changed_data) - {"groups", "password", "password1", "password2"}
        if changed:
            services.account_record_change(actor=request.user, user=obj, fields=changed)
        if deactivating:
            services.account_deactivate(actor=request.user, user=obj)

    def save_related(self, request, form, formsets, change) -> None:
        before = services.role_names(form.instance) if change else set()
        super().save_related(request, form, formsets, change)
        services.roles_record_change(
            actor=request.user,
            user=form.instance,
            before=before,
            after=services.role_names(form.instance),
        )

    @admin.action(description="Deactivate and end all their sessions")
    def deactivate_and_end_sessions(self, request, queryset) -> None:
        for user in queryset.exclude(pk=request.user.pk):
            services.account_deactivate(actor=request.user, user=user)
        self.message_user(request, "Deactivated; their sessions have ended.", messages.SUCCESS)


@admin.register(UserSession)
class SessionAdmin(AdminRoleMixin, admin.ModelAdmin):
    """Everyone's signed-in sessions (recorded at each sign-in by allauth.usersessions)."""

    actions = ["end_sessions"]
    list_display = ("user", "created_at", "last_seen_at", "ip", "user_agent")
    list_select_related = ("user",)
    search_fields = ("user__username", "ip")
    readonly_fields = ("user", "created_at", "last_seen_at", "ip", "user_agent")
    exclude = ("session_key", "data")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a deleted row would leave its session alive; "End" ends both

    @admin.action(description="End the selected sessions", permissions=["view"])
    def end_sessions(self, request, queryset) -> None:
        for user_session in queryset.select_related("user"):
            services.session_end(
                actor=request.user, user_session=user_session, reason="ended by an admin"
            )
        self.message_user(request, "The selected sessions have ended.", messages.SUCCESS)


@admin.register(ServiceToken)
class ServiceTokenAdmin(AdminRoleMixin, admin.ModelAdmin):
    actions = ["revoke"]
    list_display = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    exclude = ("token_hash",)

    def has_add_permission(self, request) -> bool:
        return False  # tokens are made by `manage.py create_service_token`, which shows them once

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: donations keep pointing at the token that sent them

    @admin.action(
        description="Revoke the selected tokens (at once, for good)", permissions=["view"]
    )
    def revoke(self, request, queryset) -> None:
        revoked = sum(
            services.service_token_revoke(actor=request.user, token=token) for token in queryset
        )
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)
