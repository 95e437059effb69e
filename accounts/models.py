"""Accounts' own rows. People are Django's users (roles as groups, ``annotations.roles``);
machines are service tokens."""

from django.db import models


class TokenScope(models.TextChoices):
    INGEST = "ingest", "send donations and read their status"
    WITHDRAW = "withdraw", "withdraw donations"


def default_token_scopes() -> list[str]:
    return [TokenScope.INGEST]


class ServiceToken(models.Model):
    """A machine credential for the donation service. Only a hash is stored.

    Least privilege: a token may do only what its scopes name; revoking it (setting
    ``revoked_at``) stops it at its next call. The table keeps the name it had when the
    model lived in ``annotations`` (moved by state only: no rows copied).
    """

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to tell tokens apart")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(
        default=default_token_scopes, help_text="What the token may do: ingest, withdraw"
    )

    # Read by audit.services to label the actor without importing this app.
    is_service_token = True

    class Meta:
        db_table = "annotations_servicetoken"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
