from rest_framework.permissions import BasePermission

from annotations import roles
from annotations.models import ServiceToken


class IsDonationService(BasePermission):
    message = "Only the donation service (a service token) may do this."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ServiceToken)


class IsAnnotator(BasePermission):
    message = "You need the annotator role to label."

    def has_permission(self, request, view) -> bool:
        return not isinstance(request.auth, ServiceToken) and roles.can_label(request.user)


class IsPerson(BasePermission):
    message = "Sign in as a person; service tokens cannot do this."

    def has_permission(self, request, view) -> bool:
        return not isinstance(request.auth, ServiceToken) and request.user.is_authenticated
