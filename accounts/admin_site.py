from allauth.account.decorators import secure_admin_login
from django.contrib import admin

from accounts import access


class DropTurkAdminSite(admin.AdminSite):
    """The admin, with no sign-in form of its own: it sends people to allauth's (and so
    through MFA), and lets in only active staff who hold the admin role."""

    site_header = "DropTurk administration"
    site_title = "DropTurk admin"

    def login(self, request, extra_context=None):
        return secure_admin_login(super().login)(request, extra_context)

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and access.is_admin(request.user)
