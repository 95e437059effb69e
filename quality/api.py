"""The review queue's REST API (reviewers only; anyone else gets 404)."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ServiceToken
from annotations import roles
from annotations.text import reject_control_characters
from quality import selectors, services
from quality.models import BadCropReason, CropConsensus


class IsReviewer(BasePermission):
    """Reviewers; a signed-in person without the role is told nothing exists (404)."""

    message = "Sign in as a reviewer."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ServiceToken) or not request.user.is_authenticated:
            return False
        if not roles.can_review(request.user):
            raise NotFound()
        return True


class CandidateSerializer(serializers.Serializer):
    label_id = serializers.IntegerField()
    text = serializers.CharField()
    rotated = serializers.BooleanField()
    non_english = serializers.BooleanField()
    unreadable = serializers.BooleanField()
    bad_reason = serializers.CharField(allow_blank=True)  # an annotator marked the crop bad
    votes = serializers.IntegerField()
    low_reliability = serializers.BooleanField()


class ReviewItemSerializer(serializers.Serializer):
    crop_id = serializers.IntegerField()
    image_url = serializers.CharField()
    reason = serializers.CharField()
    reason_text = serializers.CharField()
    prefill_text = serializers.CharField()
    candidates = CandidateSerializer(many=True)
    lease_expires_at = serializers.DateTimeField()


class ReviewNextApi(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(
        request=None,
        responses={200: ReviewItemSerializer, 204: None},
        summary="Open the next crop waiting for review, with its candidate labels",
    )
    def post(self, request):
        item = services.review_lease_next(reviewer=request.user)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ReviewItemSerializer(selectors.review_item(item=item)).data)


class ReviewDecideApi(APIView):
    permission_classes = [IsReviewer]

    @extend_schema_serializer(component_name="ReviewDecision")
    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=["accept", "fix", "bad"])
        label_id = serializers.IntegerField(required=False)
        text = serializers.CharField(
            max_length=200, allow_blank=True, required=False, trim_whitespace=True
        )
        rotated = serializers.BooleanField(default=False)
        non_english = serializers.BooleanField(default=False)
        unreadable = serializers.BooleanField(default=False)
        reason = serializers.ChoiceField(choices=BadCropReason.choices, required=False)
        gold = serializers.BooleanField(default=False)

        def validate_text(self, value: str) -> str:
            return reject_control_characters(value)

        def validate(self, attrs):
            decision = attrs["decision"]
            if decision == "accept" and "label_id" not in attrs:
                raise serializers.ValidationError({"label_id": "Say which label to accept."})
            if decision == "fix" and not attrs.get("text") and not attrs["unreadable"]:
                raise serializers.ValidationError({"text": "Type the word, or mark it unreadable."})
            if decision == "bad" and "reason" not in attrs:
                raise serializers.ValidationError(
                    {"reason": "Say what is wrong with the crop: not_a_word, two_words, cut_off."}
                )
            if decision == "bad" and attrs["gold"]:
                raise serializers.ValidationError({"gold": "A bad crop cannot be a gold item."})
            return attrs

    @extend_schema_serializer(component_name="ReviewOutcome")
    class OutputSerializer(serializers.Serializer):
        crop_id = serializers.IntegerField()
        state = serializers.CharField()
        text = serializers.CharField()
        decided_by = serializers.CharField()
        gold = serializers.BooleanField()

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, 404: None, 409: None},
        summary="Settle a crop: accept a candidate, fix it, or mark the crop bad",
    )
    def post(self, request, crop_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        answer = services.ReviewAnswer(
            text=data.get("text", ""),
            rotated=data["rotated"],
            non_english=data["non_english"],
            unreadable=data["unreadable"],
        )
        try:
            item = services.review_decide(
                reviewer=request.user,
                crop_id=crop_id,
                decision=data["decision"],
                label_id=data.get("label_id"),
                answer=answer,
                bad_reason=data.get("reason", ""),
                make_gold=data["gold"],
            )
        except CropConsensus.DoesNotExist as exc:
            raise NotFound("No such crop waiting for review.") from exc
        except services.ReviewConflict as conflict:
            return Response({"detail": str(conflict)}, status=status.HTTP_409_CONFLICT)
        out = {
            "crop_id": crop_id,
            "state": item.state,
            "text": item.text,
            "decided_by": item.decided_by,
            "gold": data["gold"],
        }
        return Response(self.OutputSerializer(out).data)
