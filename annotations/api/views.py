"""The REST API of the labeling domain: one view per operation, calling one service."""

import json

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

import audit
from annotations import blobs, selectors, services
from annotations.api.permissions import (
    CanWithdrawDonations,
    IsAnnotator,
    IsDonationService,
    IsPerson,
)
from annotations.images import ImageRejected, normalize_image
from annotations.models import BadMark, DocumentKind, Label, LabelKind, Task
from annotations.text import reject_control_characters
from annotations.uploads import UploadTooLarge
from audit.models import Outcome


class CropSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    line = serializers.IntegerField(
        allow_null=True, help_text="Line within the page, 0-based (null: cut before lines)"
    )
    decision = serializers.CharField(
        help_text="How the page reader made the word: accepted, reread, combined or split "
        "(blank: cut before the page reader)"
    )
    box = serializers.SerializerMethodField()
    prefill_text = serializers.CharField()
    prefill_confidence = serializers.FloatField(allow_null=True)
    prefill_engine = serializers.CharField()
    prefill_engine_version = serializers.CharField()

    def get_box(self, crop) -> dict[str, int]:
        return {"x": crop.x, "y": crop.y, "width": crop.width, "height": crop.height}


class DonationCreateApi(APIView):
    permission_classes = [IsDonationService]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema_serializer(component_name="DonationUpload")
    class InputSerializer(serializers.Serializer):
        image = serializers.FileField(allow_empty_file=True)
        kind = serializers.ChoiceField(choices=DocumentKind.choices)

    @extend_schema_serializer(component_name="DonationCreated")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        kind = serializers.CharField()
        status = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={
            201: OutputSerializer,
            413: OpenApiResponse(description="The file or its pixels are over the limit."),
        },
        summary="Donate a document image",
    )
    def post(self, request):
        try:
            serializer = self.InputSerializer(data=request.data)
        except UploadTooLarge as refused:  # the upload handler stopped reading it
            audit.record(
                actor=request.auth,
                action="annotations.donation_rejected",
                outcome=Outcome.FAILURE,
                data={"reason": str(refused.detail)},
            )
            raise
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["image"]
        try:
            image = normalize_image(upload.read())
        except ImageRejected as rejected:
            code = (
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
                if rejected.too_large
                else status.HTTP_400_BAD_REQUEST
            )
            audit.record(
                actor=request.auth,
                action="annotations.donation_rejected",
                outcome=Outcome.FAILURE,
                data={"reason": rejected.message, "bytes": upload.size},
            )
            return Response({"detail": rejected.message, "field": "image"}, status=code)
        donation = services.donation_create(
            source=request.auth,
            kind=serializer.validated_data["kind"],
            image=image,
        )
        return Response(self.OutputSerializer(donation).data, status=status.HTTP_201_CREATED)


class DonationDetailApi(APIView):
    @extend_schema_serializer(component_name="DonationDetail")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        kind = serializers.CharField()
        status = serializers.CharField()
        failure_reason = serializers.CharField()
        width = serializers.IntegerField()
        height = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        words_rejected = serializers.IntegerField(
            allow_null=True,
            help_text="Regions the page reader rejected as noise (null: not read by it)",
        )
        words_over_cap = serializers.IntegerField(
            help_text="Words that made no crop (a page makes at most OCR_MAX_CROPS_PER_PAGE)"
        )
        crops = serializers.SerializerMethodField()

        def get_crops(self, donation) -> list[dict]:
            return CropSerializer(selectors.donation_crops(donation=donation), many=True).data

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [CanWithdrawDonations()]
        return super().get_permissions()

    @extend_schema(
        responses={204: None}, summary="Withdraw a donation: its images become unreadable"
    )
    def delete(self, request, donation_id):
        donation = services.donation_withdraw(source=request.auth, donation_id=donation_id)
        if donation is None:
            raise NotFound("No such donation, or not one you sent.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: OutputSerializer}, summary="A donation and its word crops")
    def get(self, request, donation_id):
        principal = request.auth if request.auth is not None else request.user
        donation = selectors.donation_get_for(principal=principal, donation_id=donation_id)
        if donation is None:
            raise NotFound("No such donation, or not one you may see.")
        return Response(self.OutputSerializer(donation).data)


class TaskSerializer(serializers.Serializer):
    """A leased task (``services.Lease``), the shape ``lease_json`` writes. Gold items
    look exactly like any other task (no field tells them apart); in blind mode the
    prefill is left out (empty text, no confidences)."""

    id = serializers.IntegerField()
    crop_id = serializers.IntegerField()
    image_url = serializers.CharField()
    prefill_text = serializers.CharField()
    prefill_confidence = serializers.FloatField(allow_null=True)
    prefill_char_confidences = serializers.ListField(child=serializers.FloatField())
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    lease_expires_at = serializers.DateTimeField()


class JsonOnly(DefaultContentNegotiation):
    """Answers in the view's first renderer (JSON) whatever the Accept header, as DRF's
    documentation shows for APIs that ignore it; request bodies are parsed as usual."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def json_response(data, *, status: int = 200) -> HttpResponse:
    """``data`` as JSON, compact and UTF-8, the way DRF's JSONRenderer writes it."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return HttpResponse(body.encode(), status=status, content_type="application/json")


def api_datetime(value) -> str:
    """A timestamp as DRF's ``DateTimeField`` writes it (ISO 8601 in the project's time
    zone, ``Z`` for UTC) without building a field per call."""
    text = value.astimezone(timezone.get_default_timezone()).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def lease_json(lease: services.Lease) -> dict:
    # Written by hand, not by TaskSerializer: this answers every lease of the loop.
    return {
        "id": lease.id,
        "crop_id": lease.crop_id,
        "image_url": f"/api/v1/crops/{lease.crop_id}/image",
        "prefill_text": "" if lease.blind else lease.prefill_text,
        "prefill_confidence": None if lease.blind else lease.prefill_confidence,
        "prefill_char_confidences": [] if lease.blind else lease.prefill_char_confidences,
        "width": lease.width,
        "height": lease.height,
        "lease_expires_at": api_datetime(lease.lease_expires_at),
    }


class LoopApiView(APIView):
    """A call of the annotator loop (lease, image, submit): JSON whatever the client's
    Accept header says, and its answers written straight to the response, with no
    negotiation and no renderer on the way (errors still go through DRF's handler)."""

    content_negotiation_class = JsonOnly


class TaskNextApi(LoopApiView):
    permission_classes = [IsAnnotator]

    @extend_schema_serializer(component_name="TaskLeases")
    class OutputSerializer(serializers.Serializer):
        tasks = TaskSerializer(many=True)

    @extend_schema(
        request=None,
        responses={200: OutputSerializer, 204: None},
        summary="Lease the next labeling task(s); ?count=N for several",
    )
    def post(self, request):
        try:
            count = int(request.query_params.get("count", "1"))
        except ValueError as exc:
            raise ParseError("count must be a whole number.") from exc
        if count < 1:
            raise ParseError("count must be at least 1.")
        tasks = services.task_lease_next(user=request.user, count=count)
        if not tasks:
            return HttpResponse(status=status.HTTP_204_NO_CONTENT)
        return json_response({"tasks": [lease_json(lease) for lease in tasks]})


class LabelInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=True)
    rotated = serializers.BooleanField(default=False)
    non_english = serializers.BooleanField(default=False)
    unreadable = serializers.BooleanField(default=False)
    # The crop is bad (not one word), instead of a text: two_words, cut_off, not_a_word.
    bad_reason = serializers.ChoiceField(
        choices=BadMark.choices, required=False, allow_blank=True, default=""
    )
    elapsed_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=24 * 3600 * 1000
    )
    client_key = serializers.UUIDField(required=False, allow_null=True)

    def validate_text(self, value: str) -> str:
        return reject_control_characters(value)

    def validate(self, attrs):
        if not attrs["text"] and not attrs["unreadable"] and not attrs.get("bad_reason"):
            raise serializers.ValidationError(
                {"text": "Type the word, or flag the crop as unreadable."}
            )
        return attrs


class LabelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task_id = serializers.IntegerField()
    crop_id = serializers.IntegerField()
    image_url = serializers.SerializerMethodField()
    text = serializers.CharField()
    rotated = serializers.BooleanField()
    non_english = serializers.BooleanField()
    unreadable = serializers.BooleanField()
    bad_reason = serializers.CharField(allow_blank=True)
    revises = serializers.IntegerField(source="revises_id", allow_null=True)
    created_at = serializers.DateTimeField()

    def get_image_url(self, label) -> str:
        return f"/api/v1/crops/{label.crop_id}/image"


def label_json(label: Label) -> dict:
    # Written by hand, not by LabelOutputSerializer (the same shape): this answers every
    # submit of the loop, and the serializer's per-call field copies cost more than it.
    return {
        "id": label.pk,
        "task_id": label.task_id,
        "crop_id": label.crop_id,
        "image_url": f"/api/v1/crops/{label.crop_id}/image",
        "text": label.text,
        "rotated": label.rotated,
        "non_english": label.non_english,
        "unreadable": label.unreadable,
        "bad_reason": label.bad_reason,
        "revises": label.revises_id,
        "created_at": api_datetime(label.created_at),
    }


def _conflict(conflict: services.LabelConflict) -> Response:
    return Response({"detail": str(conflict)}, status=status.HTTP_409_CONFLICT)


def _task_or_404(task_id: int) -> None:
    if not Task.objects.filter(pk=task_id).exists():
        raise NotFound("No such task.")


class TaskSubmitApi(LoopApiView):
    permission_classes = [IsAnnotator]

    @extend_schema(request=LabelInputSerializer, responses={201: LabelOutputSerializer, 409: None})
    def post(self, request, task_id: int):
        serializer = LabelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            label = services.label_submit(
                user=request.user,
                task_id=task_id,
                **serializer.validated_data,
            )
        except Task.DoesNotExist as exc:
            raise NotFound("No such task.") from exc
        except services.LabelConflict as conflict:
            return _conflict(conflict)
        return json_response(label_json(label), status=status.HTTP_201_CREATED)


class TaskSkipApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(request=None, responses={204: None}, summary="Pass on a task")
    def post(self, request, task_id: int):
        _task_or_404(task_id)
        services.task_skip(user=request.user, task_id=task_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskRenewApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema_serializer(component_name="LeaseRenewal")
    class OutputSerializer(serializers.Serializer):
        lease_expires_at = serializers.DateTimeField()

    @extend_schema(request=None, responses={200: OutputSerializer, 409: None})
    def post(self, request, task_id: int):
        _task_or_404(task_id)
        try:
            task = services.task_renew(user=request.user, task_id=task_id)
        except services.LabelConflict as conflict:
            return _conflict(conflict)
        return Response(self.OutputSerializer(task).data)


class LabelMineApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema_serializer(component_name="MyLabels")
    class OutputSerializer(serializers.Serializer):
        labels = LabelOutputSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer}, summary="My latest labels, newest first")
    def get(self, request):
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError as exc:
            raise ParseError("limit must be a whole number.") from exc
        if not 1 <= limit <= 200:
            raise ParseError("limit must be between 1 and 200.")
        labels = selectors.labels_mine(user=request.user, limit=limit)
        return Response(self.OutputSerializer({"labels": labels}).data)


class LabelReviseApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(request=LabelInputSerializer, responses={201: LabelOutputSerializer, 409: None})
    def post(self, request, label_id: int):
        serializer = LabelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mine = Label.objects.filter(pk=label_id, annotator=request.user)
        if not mine.exclude(kind=LabelKind.REVIEW).exists():
            raise NotFound("No such label of yours.")
        try:
            label = services.label_revise(
                user=request.user,
                label_id=label_id,
                **serializer.validated_data,
            )
        except services.LabelConflict as conflict:
            return _conflict(conflict)
        return Response(label_json(label), status=status.HTTP_201_CREATED)


class CropImageApi(LoopApiView):
    permission_classes = [IsPerson]

    @extend_schema(
        responses={
            (200, "image/png"): bytes,
            422: OpenApiResponse(description="The crop's stored image is damaged or missing."),
        },
        summary="A word crop's image",
    )
    def get(self, request, crop_id: int):
        crop = selectors.crop_get_for_viewer(user=request.user, crop_id=crop_id)
        if crop is None:
            audit.record(
                actor=request.user,
                action="annotations.crop_image_denied",
                target_type="annotations.wordcrop",
                target_id=crop_id,
                outcome=Outcome.DENIED,
            )
            raise NotFound("No such crop, or it is not leased to you.")
        try:
            png = services.crop_image_read(user=request.user, crop=crop)
        except blobs.DAMAGED_BLOB_ERRORS:
            audit.record(
                actor=request.user,
                action="annotations.crop_image_damaged",
                target=crop,
                outcome=Outcome.FAILURE,
            )
            return json_response(
                {
                    "detail": "The stored image of this crop is damaged or missing; "
                    "it cannot be shown."
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
