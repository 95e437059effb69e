"""Service tokens are accounts' (moved from annotations by state only), and the audit
history written under the old target type stays readable with the new one."""

from accounts.models import ServiceToken
from accounts.tokens import service_token_create
from audit import record
from audit.models import AuditEvent
from audit.selectors import subject_branches


def test_the_token_model_is_accounts_and_keeps_its_table():
    import annotations.models

    assert ServiceToken._meta.label_lower == "accounts.servicetoken"
    assert ServiceToken._meta.db_table == "annotations_servicetoken"
    assert annotations.models.ServiceToken is ServiceToken  # older imports still work
    assert annotations.models.Donation._meta.get_field("source").related_model is ServiceToken


def test_a_tokens_history_holds_events_written_before_the_move(db):
    # Given a token, an event written under the old type and one under the new
    token, _ = service_token_create(name="donation-app")
    record(
        actor=None,
        action="annotations.service_token_create",
        target_type="annotations.servicetoken",
        target_id=token.pk,
    )
    # When its history is read under either name
    for name in ("accounts.servicetoken", "annotations.servicetoken"):
        (branch,) = subject_branches(name, str(token.pk))
        # Then both events are there
        assert sorted(AuditEvent.objects.filter(branch).values_list("target_type", flat=True)) == [
            "accounts.servicetoken",
            "annotations.servicetoken",
        ]
