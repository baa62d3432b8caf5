"""Forms of the governance pages. They only parse input: the rules live in the services."""

from __future__ import annotations

from django import forms

from admin_ops.models import InactivityPolicy
from admin_ops.services.inactivity import MAX_THRESHOLD_DAYS
from deelrx.inputs import column_bounds, parse_id


class InactivityPolicyForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    threshold_days = forms.IntegerField(
        **column_bounds(InactivityPolicy, "threshold_days", min_value=1, max_value=MAX_THRESHOLD_DAYS),
        label="Inactive for (days)",
    )
    warnings = forms.CharField(
        required=False,
        label="Warn (days before)",
        help_text="Comma-separated, e.g. 14, 7, 1: each email goes out that many days before the threshold.",
    )
    suspend = forms.BooleanField(required=False, label="Suspend the member at the threshold")
    purge = forms.BooleanField(required=False, label="Request a purge of the member's activity data")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def clean_warnings(self) -> list[int]:
        raw = self.cleaned_data["warnings"].replace(";", ",")
        values = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            days = parse_id(part, maximum=MAX_THRESHOLD_DAYS)
            if days is None:
                raise forms.ValidationError("Enter whole numbers of days separated by commas.")
            values.append(days)
        return values

    @classmethod
    def initial_for(cls, policy) -> dict:
        actions = policy.actions or {}
        return {
            "name": policy.name,
            "description": policy.description,
            "threshold_days": policy.threshold_days,
            "warnings": ", ".join(str(w) for w in actions.get("warnings", [])),
            "suspend": actions.get("suspend", False),
            "purge": actions.get("purge", False),
            "is_active": policy.is_active,
        }

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "threshold_days": data["threshold_days"],
            "actions": {"warnings": data["warnings"], "suspend": data["suspend"], "purge": data["purge"]},
            "is_active": data["is_active"],
        }


class BlobMigrateForm(forms.Form):
    key = forms.CharField(max_length=1024)
    to_store = forms.ChoiceField(choices=[("private", "private"), ("public", "public")])


class BlobDeleteForm(forms.Form):
    force = forms.BooleanField(required=False, label="Delete even though rows point at this file")
