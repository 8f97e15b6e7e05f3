"""The appointment page's cancellation: one of the clinic's reasons, the receptionist's own
words, or both (the booking service records them; scheduling.cancel_reasons)."""

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from scheduling.cancel_reasons import FIELD
from scheduling.forms import RecordChoiceField
from scheduling.models import CancelReason


class CancelForm(forms.Form):
    """`reason_id`: one of `reasons` (read once, for the page), or "" for "another reason";
    `reason`: free text, required when no reason is chosen. The booking service bounds the
    text and checks the chosen reason again."""

    FIELDS = (FIELD, "reason")  # what the page shows next to the form, not above it

    reason = forms.CharField(required=False, strip=False)

    def __init__(self, data: Any = None, *, reasons: Sequence[CancelReason], **kwargs: Any):
        kwargs.setdefault("auto_id", "cancel-%s")  # the page's other forms use id_…
        super().__init__(data, **kwargs)
        self.reasons = list(reasons)
        field = RecordChoiceField(
            self.reasons,
            model=CancelReason,
            required=False,
            widget=forms.RadioSelect,
            error_messages={"invalid_choice": _("Choose one of the reasons listed.")},
        )
        if self.reasons:
            field.choices = [*field.choices, ("", _("Another reason (write it below)"))]
        self.fields[FIELD] = field

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen, words = cleaned.get(FIELD), cleaned.get("reason", "")
        if FIELD not in self.errors and chosen is None and not words.strip():
            message = (
                _("Choose a reason, or write one.")
                if self.reasons
                else _("Give a reason for the cancellation.")
            )
            self.add_error("reason", message)
        return cleaned

    def cancellation(self) -> dict[str, Any]:
        """The booking service's arguments (cancel_appointment), once the form is valid."""
        return {"preset": self.cleaned_data[FIELD], "reason": self.cleaned_data["reason"]}
