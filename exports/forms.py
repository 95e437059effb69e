"""The ML engineers' request form: what ``ExportFilters.from_dict`` reads, as fields."""

from django import forms

from annotations.models import DocumentKind
from exports.models import ExportFormat
from exports.selectors import FLAGS

_FLAG_CHOICES = [(flag, flag.replace("_", "-")) for flag in FLAGS]


class ExportRequestForm(forms.Form):
    format = forms.ChoiceField(choices=ExportFormat.choices)
    kinds = forms.MultipleChoiceField(
        choices=DocumentKind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    date_from = forms.DateField(required=False, label="Labeled from")
    date_to = forms.DateField(required=False, label="Labeled up to")
    min_confidence = forms.FloatField(required=False, min_value=0, max_value=1)
    flags_include = forms.MultipleChoiceField(
        choices=_FLAG_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only crops flagged",
    )
    flags_exclude = forms.MultipleChoiceField(
        choices=_FLAG_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Leave out crops flagged",
    )
    engine_versions = forms.CharField(
        required=False, label="Prefill model versions", help_text="Comma-separated"
    )

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "kinds": data["kinds"],
            "date_from": data["date_from"].isoformat() if data["date_from"] else None,
            "date_to": data["date_to"].isoformat() if data["date_to"] else None,
            "min_confidence": data["min_confidence"],
            "flags_include": data["flags_include"],
            "flags_exclude": data["flags_exclude"],
            "engine_versions": [v.strip() for v in data["engine_versions"].split(",") if v.strip()],
        }
