"""The event list's filters, as a GET form shared by the pages and the export."""

import dataclasses

from django import forms

from audit.actions import ACTIONS
from audit.models import ActorType, Outcome
from audit.selectors import EventFilters

ANY = [("", "any")]
# Every filter but the two times is a plain string ("" for any).
TEXT_FILTERS = tuple(
    field.name for field in dataclasses.fields(EventFilters) if field.name not in ("since", "until")
)
UTC_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class EventFilterForm(forms.Form):
    actor_type = forms.ChoiceField(choices=ANY + ActorType.choices, required=False)
    actor_id = forms.CharField(label="Actor id", max_length=64, required=False)
    actor_label = forms.CharField(label="Actor name", max_length=150, required=False)
    action = forms.ChoiceField(
        choices=ANY + [(name, name) for name in sorted(ACTIONS)], required=False
    )
    target_type = forms.CharField(max_length=64, required=False)
    target_id = forms.CharField(label="Target id", max_length=64, required=False)
    outcome = forms.ChoiceField(choices=ANY + Outcome.choices, required=False)
    since = forms.DateTimeField(label="From (UTC)", required=False, widget=UTC_INPUT)
    until = forms.DateTimeField(label="To (UTC, excluded)", required=False, widget=UTC_INPUT)
    request_id = forms.CharField(label="Request id", max_length=64, required=False)
    # Set by the history pages' URL, kept through the form.
    subject_type = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    subject_id = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        # An id alone would match no index: ids are only unique within their type.
        if data.get("actor_id") and not data.get("actor_type"):
            self.add_error("actor_type", "Choose the kind of actor the id belongs to.")
        if data.get("target_id") and not data.get("target_type"):
            self.add_error("target_type", "Give the kind of target the id belongs to.")
        if bool(data.get("subject_type")) != bool(data.get("subject_id")):
            self.add_error(None, "A history needs both the kind of object and its id.")
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "The end must come after the start.")
        return data

    def filters(self) -> EventFilters:
        """The validated filters (call after ``is_valid()``)."""
        data = self.cleaned_data
        text = {name: data.get(name) or "" for name in TEXT_FILTERS}
        return EventFilters(**text, since=data.get("since"), until=data.get("until"))
