"""The REST API of the model registry: list, retrain, promote. One view per operation.

ML engineers may do all three; admins may list (they oversee what runs); anyone else,
and any service token, is refused. Promotion asks for a recent re-authentication.
"""

from django.core.exceptions import ValidationError as OptionsError
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.decorators import require_recent_auth
from annotations.models import ServiceToken
from ocr_bridge import learning, selectors
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

    @extend_schema(request=InputSerializer, responses={202: ModelOutputSerializer})
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
