from rest_framework.permissions import BasePermission

from accounts.models import ServiceToken, TokenScope
from annotations import roles


def _is_service_token(request) -> bool:
    return isinstance(request.auth, ServiceToken)


def _token_has_scope(token: ServiceToken, scope: str) -> bool:
    return scope in token.scopes


class TokenScopeRequired(BasePermission):
    """A live service token whose scopes include ``scope``."""

    scope: str = ""

    @property
    def message(self) -> str:
        return f"This needs a service token with the '{self.scope}' scope."

    def has_permission(self, request, view) -> bool:
        return _is_service_token(request) and _token_has_scope(request.auth, self.scope)


class IsDonationService(TokenScopeRequired):
    """The donation service sending donations (scope ``ingest``)."""

    scope = TokenScope.INGEST


class CanWithdrawDonations(TokenScopeRequired):
    """The donation service withdrawing donations (scope ``withdraw``)."""

    scope = TokenScope.WITHDRAW


class IsAnnotator(BasePermission):
    message = "You need the annotator role to label."

    def has_permission(self, request, view) -> bool:
        return not _is_service_token(request) and roles.can_label(request.user)


class IsPerson(BasePermission):
    message = "Sign in as a person; service tokens cannot do this."

    def has_permission(self, request, view) -> bool:
        return not _is_service_token(request) and request.user.is_authenticated
