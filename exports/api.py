"""The REST API of exports: one view per operation, calling one service.

Only ML engineers reach it; each sees only the exports they requested (404 otherwise).
A download takes two steps: ``download`` (after a recent re-authentication) answers
with a short-lived link signed for that person, and the link streams the archive,
decrypted on the fly and audited.
"""

from django.core.exceptions import ValidationError as FilterError
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.decorators import require_recent_auth
from annotations.models import ServiceToken
from exports import links, selectors, services
from exports.models import ExportFormat, ExportStatus
from exports.selectors import ExportFilters


class IsPersonWithSession(BasePermission):
    message = "Sign in as a person; service tokens cannot export."

    def has_permission(self, request, view) -> bool:
        return not isinstance(request.auth, ServiceToken) and request.user.is_authenticated


class IsMlEngineer(IsPersonWithSession):
    message = "You need the ML engineer role to export datasets."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and selectors.can_export(request.user)


class ExportOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    format = serializers.CharField()
    filters = serializers.JSONField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    total = serializers.IntegerField()
    attempts = serializers.IntegerField()
    counts = serializers.JSONField()
    reason = serializers.CharField()
    sha256 = serializers.CharField()
    directory = serializers.CharField()
    size_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


def _get_own(request, export_id):
    export = selectors.export_get_for_requester(user=request.user, export_id=export_id)
    if export is None:
        raise NotFound("No such export of yours.")
    return export


class ExportCreateApi(APIView):
    permission_classes = [IsMlEngineer]

    @extend_schema_serializer(component_name="ExportRequest")
    class InputSerializer(serializers.Serializer):
        format = serializers.ChoiceField(choices=ExportFormat.choices)
        # ``filters``: ExportFilters' keys (date_from, date_to, kinds, consensus_state,
        # min_confidence, flags_include, flags_exclude, engine_versions).
        filters = serializers.JSONField(required=False, default=dict)

    @extend_schema(request=InputSerializer, responses={201: ExportOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            filters = ExportFilters.from_dict(data.validated_data["filters"])
            export = services.export_request(
                user=request.user, format=data.validated_data["format"], filters=filters
            )
        except FilterError as exc:
            raise ValidationError({"filters": exc.messages}) from exc
        except ValueError as exc:
            raise ValidationError({"format": [str(exc)]}) from exc
        return Response(ExportOutputSerializer(export).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ExportOutputSerializer(many=True)})
    def get(self, request):
        exports = selectors.exports_of(user=request.user)[:100]
        return Response(ExportOutputSerializer(exports, many=True).data)


class ExportDetailApi(APIView):
    permission_classes = [IsPersonWithSession]

    @extend_schema(responses={200: ExportOutputSerializer})
    def get(self, request, export_id):
        return Response(ExportOutputSerializer(_get_own(request, export_id)).data)

    @extend_schema(responses={200: ExportOutputSerializer})
    def delete(self, request, export_id):
        export = _get_own(request, export_id)
        export = services.export_delete(
            export_id=export.pk,
            reason="deleted by its requester",
            actor=request.user,
            action="exports.export_delete",
        )
        return Response(ExportOutputSerializer(export).data)


class ExportDownloadApi(APIView):
    """After a recent re-authentication: a redirect to a link valid for a few minutes."""

    permission_classes = [IsPersonWithSession]

    @extend_schema(responses={302: None})
    def get(self, request, export_id):
        export = _get_own(request, export_id)
        return self._link(request, export)

    @method_decorator(require_recent_auth)
    def _link(self, request, export):
        if export.status != ExportStatus.DONE:
            raise NotFound(export.reason or f"The export is {export.status}.")
        if not export.archive_name:
            raise NotFound("This export was written to a directory on the server.")
        response = HttpResponseRedirect(links.download_url(user=request.user, export=export))
        response["Cache-Control"] = "no-store"
        return response


class ExportArchiveApi(APIView):
    """The archive itself, through a link from ``download``: the same person, in time."""

    permission_classes = [IsPersonWithSession]

    @extend_schema(responses={(200, "application/x-tar"): bytes})
    def get(self, request, export_id):
        export = _get_own(request, export_id)
        try:
            links.check(
                token=request.query_params.get("link", ""), user=request.user, export=export
            )
        except links.BadLink as exc:
            raise PermissionDenied(str(exc)) from exc
        try:
            chunks = services.export_open_for_download(user=request.user, export=export)
        except services.ExportUnavailable as exc:
            raise NotFound(str(exc)) from exc
        response = StreamingHttpResponse(chunks, content_type="application/x-tar")
        response["Content-Disposition"] = (
            f'attachment; filename="dropturk-{export.format}-{export.pk}.tar"'
        )
        response["Content-Length"] = str(export.size_bytes)
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
