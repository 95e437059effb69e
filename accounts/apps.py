from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = "Accounts and sign-in"

    def ready(self) -> None:
        from accounts import backends, receivers

        receivers.connect()
        backends.connect()
        # Not sender=self: an app without models gets no post_migrate. Idempotent and cheap
        # (one look at the table list), so once per migrated app does no harm.
        post_migrate.connect(_create_cache_table, dispatch_uid="accounts.cache")


def _create_cache_table(sender, using: str = "default", **kwargs) -> None:
    """The embedded default's shared cache lives in the database (settings: no REDIS_URL);
    ``migrate`` creates its table, so single-use codes, throttles and lockouts hold across
    every process. Does nothing for other cache backends."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class DropTurkAdminConfig(admin_apps.AdminConfig):
    """The Django admin, signed into through allauth (MFA) and open to the admin role only."""

    default = False  # named explicitly in INSTALLED_APPS, in place of django.contrib.admin
    default_site = "accounts.admin_site.DropTurkAdminSite"
