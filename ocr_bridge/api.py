"""The REST API of the OCR side: the model registry (list, retrain, promote) and a
donation's page text. One view per operation.

ML engineers may do all three of the registry; admins may list (they oversee what
runs); anyone else, and any service token, is refused. Promotion asks for a recent
re-authentication. A page's text is for the service token that sent the donation and
for ML engineers.
"""

from django.core.exceptions import ValidationError as OptionsError
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import renderers, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.decorators import require_recent_auth
from accounts.models import ServiceToken
from ocr_bridge import learning, page_text, selectors
from ocr_bridge.weights import active_version


class _Person(BasePermission):
    def has_permission(self, request, view) -> bool:
        return not isinstance(request.auth, ServiceToken) and request.user.is_authenticated


class CanViewModels(_Person):
    message = "You need the ML engineer or admin role to see the models."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and selectors.can_view_models(request.user)


class CanTrainModels(_Person):
    message = "You need the ML engineer role to retrain or promote models."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and selectors.can_train_models(request.user)


class ModelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    parent = serializers.CharField(source="parent.name", allow_null=True, default=None)
    status = serializers.CharField()
    reason = serializers.CharField()
    engine_version = serializers.CharField()
    weights_sha256 = serializers.CharField()
    config = serializers.JSONField()
    metrics = serializers.JSONField()
    label_count = serializers.IntegerField()
    labels_sha256 = serializers.CharField()
    stage = serializers.CharField()
    progress = serializers.IntegerField()
    total = serializers.IntegerField()
    eta_seconds = serializers.IntegerField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    promoted_at = serializers.DateTimeField(allow_null=True)
    promoted_by = serializers.CharField(
        source="promoted_by.username", allow_null=True, default=None
    )


class ModelListApi(APIView):
    permission_classes = [CanViewModels]

    @extend_schema(responses={200: ModelOutputSerializer(many=True)})
    def get(self, request):
        active_version()  # registers the shipped model on first use
        learning.model_versions_fail_stalled()
        versions = selectors.model_versions()[:100]
        return Response(ModelOutputSerializer(versions, many=True).data)


class ModelRetrainApi(APIView):
    permission_classes = [CanTrainModels]

    @extend_schema_serializer(component_name="RetrainRequest")
    class InputSerializer(serializers.Serializer):
        # ``options``: RetrainOptions' fields (steps, batch_size, learning_rate,
        # synthetic_share, augment, freeze_features, seed, threads, max_labels).
        options = serializers.JSONField(required=False, default=dict)

    @extend_schema(
        request=InputSerializer,
        responses={
            202: ModelOutputSerializer,
            409: OpenApiResponse(description="A retraining is already running."),
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not isinstance(data.validated_data["options"], dict):
            raise ValidationError({"options": ["options must be an object"]})
        try:
            options = learning.RetrainOptions.from_dict(data.validated_data["options"])
        except OptionsError as exc:
            raise ValidationError({"options": exc.messages}) from exc
        try:
            version = learning.model_retrain_request(user=request.user, options=options)
        except learning.RetrainConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(ModelOutputSerializer(version).data, status=status.HTTP_202_ACCEPTED)


class ModelPromoteApi(APIView):
    permission_classes = [CanTrainModels]

    @extend_schema(request=None, responses={200: ModelOutputSerializer})
    @method_decorator(require_recent_auth)
    def post(self, request, version_id: int):
        if selectors.model_get(version_id=version_id) is None:
            raise NotFound("No such model.")
        try:
            version = learning.model_promote(version_id=version_id, user=request.user)
        except learning.PromotionRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(ModelOutputSerializer(version).data)


# --- A donation's page text ----------------------------------------------------------------


class PlainTextRenderer(renderers.BaseRenderer):
    """``?format=txt``: the page's lines as plain UTF-8 text (an error: its detail)."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, dict):
            data = str(data.get("detail", ""))
        text = "" if data is None else str(data)
        return (text + "\n" if text and not text.endswith("\n") else text).encode()


class WordBoxSerializer(serializers.Serializer):
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class PageWordSerializer(serializers.Serializer):
    box = WordBoxSerializer(help_text="Pixels of the upright page (see rotation)")
    text = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True, help_text="Calibrated, 0 to 1")
    char_confidences = serializers.ListField(child=serializers.FloatField())
    decision = serializers.CharField(help_text="accepted, reread, combined or split")
    source_boxes = serializers.IntegerField(help_text="Detected boxes the word was made from")


class PageLineSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    text = serializers.CharField(help_text="The line's words joined by single spaces")
    words = PageWordSerializer(many=True)


@extend_schema_serializer(component_name="Detail")
class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class DonationTextApi(APIView):
    """The donation's page text: lines of words with boxes and confidences (JSON), or the
    lines as plain text (``?format=txt``). For the service token that sent the donation
    and for ML engineers; every read is audited."""

    permission_classes = [IsAuthenticated]
    renderer_classes = [renderers.JSONRenderer, PlainTextRenderer]

    @extend_schema_serializer(component_name="DonationText")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        status = serializers.CharField()
        rotation = serializers.IntegerField(
            help_text="Degrees the page was turned to read it upright: 0, 90, 180 or 270"
        )
        width = serializers.IntegerField()
        height = serializers.IntegerField()
        detector_version = serializers.CharField()
        recognizer_version = serializers.CharField()
        words_rejected = serializers.IntegerField(
            allow_null=True, help_text="Regions the reader rejected as noise"
        )
        words_over_cap = serializers.IntegerField(
            help_text="Words that made no crop (a page makes at most OCR_MAX_CROPS_PER_PAGE); "
            "they are in the text"
        )
        text = serializers.CharField(help_text="Lines joined by newlines")
        lines = PageLineSerializer(many=True)

    @extend_schema(
        summary="A donation's page text (lines and words; ?format=txt for plain text)",
        parameters=[
            OpenApiParameter(
                "format", str, enum=["json", "txt"], description="txt: plain text, one line each"
            )
        ],
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/plain"): OpenApiTypes.STR,
            404: OpenApiResponse(ErrorSerializer, description="No such donation within reach"),
            409: OpenApiResponse(ErrorSerializer, description="Not read yet (or failed)"),
            410: OpenApiResponse(ErrorSerializer, description="Withdrawn: the text is gone"),
        },
    )
    def get(self, request, donation_id):
        principal = request.auth if request.auth is not None else request.user
        donation = page_text.donation_for_text(principal=principal, donation_id=donation_id)
        if donation is None:
            raise NotFound("No such donation, or not one you may read.")
        text_format = "txt" if request.accepted_renderer.format == "txt" else "json"
        try:
            page = page_text.page_text_read(
                principal=principal, donation=donation, text_format=text_format
            )
        except page_text.TextGone as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_410_GONE)
        except page_text.TextNotReady as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        if text_format == "txt":
            return Response(page.text())
        return Response(self.OutputSerializer(page.as_json()).data)
