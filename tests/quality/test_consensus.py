"""Consensus on hand-made label sets whose right answer is known."""

import pytest

from quality.consensus import (
    Vote,
    accuracy_and_cer,
    consensus,
    estimate_reliability,
    normalize,
    vote_text,
)


def _votes(*texts: str, **flags) -> list[Vote]:
    return [Vote(annotator=f"a{i}", text=text, **flags) for i, text in enumerate(texts)]


def test_normalisation_folds_width_and_whitespace():
    assert normalize("  \uff34\uff2f\uff34\uff21\uff2c\u00a0 6.69 ") == "TOTAL 6.69"  # full-width
    assert normalize("ﬁle") == "file"


def test_two_agreeing_labels_are_accepted():
    result = consensus(_votes("TOTAL", "TOTAL"))
    assert (result.text, result.accepted, result.confidence, result.agreeing) == (
        "TOTAL",
        True,
        1.0,
        2,
    )


def test_character_votes_fix_a_different_typo_in_each_label():
    # No two labels agree as strings; every character has a majority.
    text, tied = vote_text(["T0TAL", "TOTAI", "TOTAL:"], [1, 1, 1])
    assert (text, tied) == ("TOTAL", False)


def test_insertions_and_deletions_are_voted_too():
    assert vote_text(["6.69", "6.69", "669"], [1, 1, 1])[0] == "6.69"
    assert vote_text(["RM", "(RM)", "(RM)"], [1, 1, 1])[0] == "(RM)"


def test_a_tie_needs_review():
    result = consensus(_votes("CASH", "CARD"))
    assert not result.accepted
    assert result.reason == "the votes are tied"


def test_one_label_is_not_enough_when_two_are_required():
    result = consensus(_votes("TOTAL"), required=2)
    assert not result.accepted
    assert "1 of 2" in result.reason
    assert consensus(_votes("TOTAL"), required=1).accepted


def test_weights_decide_between_disagreeing_annotators():
    votes = [Vote("careful", "INVOICE"), Vote("careless", "INV0ICE")]
    result = consensus(votes, weights={"careful": 3.0, "careless": 0.2}, required=1)
    assert result.text == "INVOICE"
    assert result.confidence == pytest.approx(3.0 / 3.2, abs=1e-3)


def test_flags_are_voted_separately_and_unreadable_means_no_text():
    votes = [
        Vote("a", "", unreadable=True),
        Vote("b", "", unreadable=True),
        Vote("c", "XQ", rotated=True),
    ]
    result = consensus(votes)
    assert result.flags == {"rotated": False, "non_english": False, "unreadable": True}
    assert result.text == ""
    assert result.accepted


def test_a_systematically_wrong_annotator_loses_weight():
    truth = {
        f"crop{i}": word for i, word in enumerate(["TOTAL", "CASH", "CHANGE", "TAX", "QTY"] * 4)
    }
    crops = {}
    for crop, word in truth.items():
        crops[crop] = [
            Vote("good1", word),
            Vote("good2", word if crop != "crop3" else word.lower() + "x"),
            Vote("bad", word.replace("A", "4").replace("T", "7")),
        ]
    weights = estimate_reliability(crops)
    assert weights["bad"] < weights["good2"] <= weights["good1"]
    # With those weights the careless one is outvoted even when only one good label exists.
    lone = consensus([Vote("good1", "TOTAL"), Vote("bad", "7O74L")], weights=weights, required=1)
    assert lone.text == "TOTAL"


def test_gold_answers_anchor_the_reliability_estimate():
    crops = {
        "g1": [Vote("x", "SHOP"), Vote("y", "SH0P")],
        "g2": [Vote("x", "MART"), Vote("y", "M4RT")],
    }
    weights = estimate_reliability(crops, gold={"g1": "SHOP", "g2": "MART"})
    assert weights["x"] > weights["y"]


def test_accuracy_and_cer():
    accuracy, cer = accuracy_and_cer([("TOTAL", "TOTAL"), ("T0TAL", "TOTAL")])
    assert accuracy == 0.5
    assert cer == pytest.approx(1 / 10)


def test_the_counted_labels_read_is_the_orms(make_tasks, annotators, reviewer):
    """Submit reads a task's counted labels through a prepared statement on PostgreSQL:
    the same labels as the ORM's query, with the same values, oldest first."""
    from annotations.models import Label, LabelKind
    from quality.services import COUNTED_KINDS, counted_labels

    task, other = make_tasks(0.1, 0.2)
    first, second, third = annotators[:3]
    made = {}
    for name, annotator, kind in (
        ("first", first, LabelKind.ANNOTATION),
        ("gold", second, LabelKind.GOLD_ANSWER),
        ("review", reviewer, LabelKind.REVIEW),
        ("replaced", third, LabelKind.ANNOTATION),
    ):
        made[name] = Label.objects.create(
            task=task, crop=task.crop, annotator=annotator, text=name, kind=kind, rotated=True
        )
    Label.objects.create(
        task=task, crop=task.crop, annotator=third, text="correction", revises=made["replaced"]
    )
    Label.objects.create(task=other, crop=other.crop, annotator=first, text="elsewhere")

    read = counted_labels(task_id=task.pk)

    expected = list(
        Label.objects.filter(task=task, revision__isnull=True, kind__in=COUNTED_KINDS).order_by(
            "id"
        )
    )
    assert [label.text for label in read] == ["first", "review", "correction"]
    assert [label.pk for label in read] == [label.pk for label in expected]
    fields = [field.attname for field in Label._meta.concrete_fields]
    for got, want in zip(read, expected, strict=True):
        assert {name: getattr(got, name) for name in fields} == {
            name: getattr(want, name) for name in fields
        }
