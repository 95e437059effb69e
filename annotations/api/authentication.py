from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

import audit
from accounts.models import ServiceToken
from accounts.tokens import TOKEN_PREFIX, hash_token
from audit.throttled import record_refusal


class ServicePrincipal:
    """``request.user`` for a request made with a service token: not a person."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    pk = None

    def __init__(self, token: ServiceToken) -> None:
        self.token = token

    def __str__(self) -> str:
        return f"service:{self.token.name}"


class ServiceTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer dt_…``. Tokens are looked up by their SHA-256."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed token.") from exc
        if not raw.startswith(TOKEN_PREFIX):
            return None
        token = ServiceToken.objects.filter(
            token_hash=hash_token(raw), revoked_at__isnull=True
        ).first()
        if token is None:
            # One event per address and minute, however many attempts (audit.throttled).
            record_refusal(
                action="annotations.service_token_refused",
                data={"prefix": raw[:12], "method": request.method, "path": request.path[:200]},
            )
            raise exceptions.AuthenticationFailed("Invalid or revoked service token.")
        ServiceToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        # Every use is on the trail: which token called what.
        audit.record(
            actor=token,
            action="annotations.service_token_use",
            target=token,
            data={"method": request.method, "path": request.path[:200]},
        )
        return ServicePrincipal(token), token

    def authenticate_header(self, request) -> str:
        return self.keyword


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = ServiceTokenAuthentication
    name = "serviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Service token (dt_…)"}
