from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = "Accounts and sign-in"

    def ready(self) -> None:
        from accounts import backends, receivers

        receivers.connect()
        backends.connect()


class DropTurkAdminConfig(admin_apps.AdminConfig):
    """The Django admin, signed into through allauth (MFA) and open to the admin role only."""

    default = False  # named explicitly in INSTALLED_APPS, in place of django.contrib.admin
    default_site = "accounts.admin_site.DropTurkAdminSite"
