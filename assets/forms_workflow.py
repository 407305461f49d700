"""Forms of approvals, asset requests (申领) and employees' self-service (我的资产).

They parse input only; the services decide who may do what and whether the move is legal.
"""

from __future__ import annotations

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .forms import ISO_DATE, BootstrapMixin
from .models import Asset, AssetModel, AssetRequest, Category, Location
from .selectors_workflow import request_categories, request_models

INDENT = "\u00a0\u00a0"
APPROVE = "approve"
REJECT = "reject"


class TreeChoiceField(forms.ModelChoiceField):
    """A tree as one select: each node indented under its parent (queryset in path order)."""

    def label_from_instance(self, obj):
        return f"{INDENT * (obj.depth - 1)}{obj.name}"


class DecisionForm(BootstrapMixin, forms.Form):
    """Approve or reject (the two submit buttons post ``decision``) with a comment.

    A rejection needs a comment: the requester should learn why."""

    decision = forms.ChoiceField(
        choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))], widget=forms.HiddenInput
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=2000, widget=forms.Textarea({"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == REJECT and not (cleaned.get("comment") or "").strip():
            self.add_error("comment", _("Please say why you reject it."))
        return cleaned

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == APPROVE


class AssetRequestForm(BootstrapMixin, forms.ModelForm):
    """An employee's request: category (tree), optional model of that category, reason, date.

    Choosing a category reloads the model options (htmx, ``me:model_options``)."""

    category = TreeChoiceField(label=_("Category"), queryset=Category.objects.none())

    class Meta:
        model = AssetRequest
        fields = ["category", "model", "reason", "needed_by"]
        widgets = {
            "reason": forms.Textarea(attrs={"rows": 3}),
            "needed_by": forms.DateInput(format=ISO_DATE, attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = request_categories()
        category = self._chosen_category()
        self.fields["model"].queryset = (
            request_models(category=category) if category else AssetModel.objects.none()
        )
        self.fields["model"].required = False
        self.fields["model"].help_text = _("Optional: any model of the category will do.")
        self._style_widgets()
        self.fields["category"].widget.attrs.update(
            {
                "hx-get": reverse("me:model_options"),
                "hx-trigger": "change",
                "hx-target": "#id_model",
                "hx-swap": "innerHTML",
            }
        )

    def _chosen_category(self) -> Category | None:
        raw = self.data.get(self.add_prefix("category")) if self.is_bound else None
        raw = raw or self.initial.get("category")
        if not raw:
            return None
        if isinstance(raw, Category):
            return raw
        try:
            return request_categories().get(pk=raw)
        except (Category.DoesNotExist, ValueError, TypeError):
            return None

    def clean_needed_by(self):
        value = self.cleaned_data.get("needed_by")
        if value and value < timezone.localdate():
            raise forms.ValidationError(_("The date is in the past."))
        return value

    def service_arguments(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self._meta.fields}

    def _post_clean(self):
        # The service validates the request as a whole.
        pass


class FulfilForm(BootstrapMixin, forms.Form):
    """A clerk picks one of the in-stock assets that match the request."""

    asset = forms.ModelChoiceField(label=_("Asset"), queryset=Asset.objects.none())
    location = TreeChoiceField(
        label=_("Location"),
        queryset=Location.objects.none(),
        required=False,
        help_text=_("Where the asset will be used (empty: leave it unchanged)."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea({"rows": 2})
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].queryset = candidates
        self.fields["asset"].label_from_instance = self._asset_label
        if not self.is_bound and not candidates.exists():
            self.fields["asset"].help_text = _(
                "No matching asset is in stock: receive or return one first."
            )
        self.fields["location"].queryset = Location.objects.filter(is_active=True).order_by("path")
        self._style_widgets()

    @staticmethod
    def _asset_label(asset: Asset) -> str:
        where = f" · {asset.location.name}" if asset.location_id else ""
        serial = f" ({asset.serial_number})" if asset.serial_number else ""
        return f"{asset.tag} {asset.name}{serial}{where}"


class FaultReportForm(BootstrapMixin, forms.Form):
    fault = forms.CharField(
        label=_("What is wrong?"), max_length=4000, widget=forms.Textarea({"rows": 4})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()


class ReturnRequestForm(BootstrapMixin, forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea({"rows": 3}),
        help_text=_("E.g. when and where you can hand it back."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()
