"""One form per lifecycle transition (named in ``assets.lifecycle.TRANSITIONS``).

The forms parse and check what a person can see at once (required fields, dates in the past
or future, "a person or a department"); ``assets.services.asset_transition`` checks again
and decides (guard, approvals, locks). ``service_arguments()`` gives the service its
``note`` and ``data``. Every form takes ``asset`` (None on bulk pages) and ``transition``.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .forms import ISO_DATE, BootstrapMixin
from .lifecycle import DisposalMethod
from .models import Department, Location, Person, RepairOrder, Supplier

NOT_NEGATIVE = [MinValueValidator(Decimal("0"), message=_("The amount cannot be negative."))]


def _date_field(label, *, required=False, help_text=""):
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateInput(format=ISO_DATE, attrs={"type": "date"}),
        input_formats=[ISO_DATE],
        error_messages={"invalid": _("Enter a valid date.")},
    )


def _money_field(label, *, required=False):
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=12,
        decimal_places=2,
        validators=NOT_NEGATIVE,
        error_messages={"invalid": _("Enter a number.")},
    )


def _person_field(label, *, required=False):
    return forms.ModelChoiceField(
        label=label,
        required=required,
        queryset=Person.objects.filter(is_active=True).select_related("department"),
        error_messages={
            "required": _("Choose a person."),
            "invalid_choice": _("Choose a person from the list."),
        },
    )


def _department_field(label=None, *, required=False):
    return forms.ModelChoiceField(
        label=label or _("Using department"),
        required=required,
        queryset=Department.objects.filter(is_active=True),
        error_messages={"invalid_choice": _("Choose a department from the list.")},
    )


def _location_field(label=None, *, required=False):
    return forms.ModelChoiceField(
        label=label or _("Location"),
        required=required,
        queryset=Location.objects.filter(is_active=True),
        error_messages={
            "required": _("Choose a location."),
            "invalid_choice": _("Choose a location from the list."),
        },
    )


def _note_field(label=None, *, required=False):
    return forms.CharField(
        label=label or _("Note"),
        required=required,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("This field is required.")},
    )


def _file_field(label, help_text=""):
    return forms.FileField(label=label, required=False, help_text=help_text)


class TransitionForm(BootstrapMixin, forms.Form):
    """Base: keeps ``asset`` and ``transition``, styles widgets, splits note from data."""

    note = _note_field()

    def __init__(self, *args, asset=None, transition=None, **kwargs):
        self.asset = asset
        self.transition = transition
        super().__init__(*args, **kwargs)
        # the note last, whatever the subclass declares
        self.order_fields([n for n in self.fields if n != "note"] + ["note"])
        self._style_widgets()

    @property
    def today(self):
        return timezone.localdate()

    def _not_past(self, name: str) -> None:
        value = self.cleaned_data.get(name)
        if value is not None and value < self.today:
            self.add_error(name, _("The date cannot be in the past."))

    def _not_future(self, name: str) -> None:
        value = self.cleaned_data.get(name)
        if value is not None and value > self.today:
            self.add_error(name, _("The date cannot be in the future."))

    def service_arguments(self) -> dict:
        """``note`` and ``data`` for ``asset_transition`` / ``asset_transition_bulk``."""
        data = dict(self.cleaned_data)
        note = data.pop("note", "") or ""
        return {"note": note, "data": data}


class NoteForm(TransitionForm):
    """Only a note: cancel disposal, report lost (the note is the reason, required)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.transition is not None and self.transition.name == "report_lost":
            self.fields["note"].required = True
            self.fields["note"].label = _("Circumstances")
            self.fields["note"].help_text = _("When and where was the asset last seen?")


class ReceiveForm(TransitionForm):
    """Receive (ordered → in stock) and found (lost → in stock): where it is kept, since when."""

    location = _location_field(required=True)
    received_on = _date_field(_("Date"), required=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = self.fields["location"].queryset.order_by(
            "-is_warehouse", "path"
        )
        self.initial.setdefault("received_on", self.today)
        if self.asset is not None and self.asset.location_id:
            self.initial.setdefault("location", self.asset.location_id)

    def clean(self):
        cleaned = super().clean()
        self._not_future("received_on")
        return cleaned


class RelocateForm(TransitionForm):
    """Move an idle asset to another storage place (in stock → in stock)."""

    location = _location_field(required=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = self.fields["location"].queryset.order_by(
            "-is_warehouse", "path"
        )


class _HolderForm(TransitionForm):
    holder = _person_field(_("User"))
    department = _department_field()
    location = _location_field()
    due_date = _date_field(
        _("Expected return date"), help_text=_("Optional; a reminder is sent before it.")
    )

    def clean(self):
        cleaned = super().clean()
        nobody = not cleaned.get("holder") and not cleaned.get("department")
        if nobody and "holder" not in self.errors and "department" not in self.errors:
            self.add_error("holder", _("Choose a person or a department (or both)."))
        self._not_past("due_date")
        return cleaned


class AssignForm(_HolderForm):
    """Assign (领用/分配): person and/or department; the department defaults to the person's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].help_text = _("Leave empty to use the person's department.")


class LoanForm(_HolderForm):
    """Loan (借用): a person and the date the asset is due back."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["holder"].required = True
        self.fields["holder"].label = _("Borrower")
        self.fields["due_date"].required = True
        self.fields["due_date"].label = _("Due date")
        self.fields["due_date"].help_text = ""
        self.fields["due_date"].error_messages["required"] = _(
            "Enter the date the asset is due back."
        )
        self.fields["department"].help_text = _("Leave empty to use the person's department.")


class ReturnForm(TransitionForm):
    """Return (归还): where the asset is stored now and in what condition it came back."""

    location = _location_field(_("Returned to"), required=True)
    condition = forms.CharField(
        label=_("Condition"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("E.g. scratches, missing charger."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = self.fields["location"].queryset.order_by(
            "-is_warehouse", "path"
        )


class TransferForm(_HolderForm):
    """Transfer (调拨): the new person and/or department, optionally a new location."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["holder"].label = _("New user")
        self.fields["department"].label = _("New using department")
        self.fields["location"].label = _("New location")
        self.fields["location"].help_text = _("Leave empty to keep the current location.")

    def clean(self):
        cleaned = super().clean()
        asset = self.asset
        if asset is not None and not self.errors:
            holder, department = cleaned.get("holder"), cleaned.get("department")
            department = department or (holder.department if holder else None)
            location = cleaned.get("location")
            if (
                holder == asset.holder
                and department == asset.department
                and (location is None or location == asset.location)
            ):
                self.add_error(
                    "holder", _("The asset already has this user, department and location.")
                )
        return cleaned


class SendToRepairForm(TransitionForm):
    """Send to repair (送修): a new repair order, or one an employee reported."""

    repair_order = forms.ModelChoiceField(
        label=_("Reported fault"),
        required=False,
        queryset=RepairOrder.objects.none(),
        empty_label=_("— new repair order —"),
    )
    fault = forms.CharField(
        label=_("Fault description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    vendor = forms.ModelChoiceField(
        label=_("Repair vendor"), required=False, queryset=Supplier.objects.all()
    )
    expected_cost = _money_field(_("Expected cost (CNY)"))
    sent_on = _date_field(_("Sent on"), required=True)
    attachment = _file_field(_("Photo or document"), _("Optional: JPEG, PNG, WebP, GIF or PDF."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("sent_on", self.today)
        reported = RepairOrder.objects.none()
        if self.asset is not None:
            reported = RepairOrder.objects.filter(
                asset=self.asset, state=RepairOrder.State.REQUESTED
            )
        self.fields["repair_order"].queryset = reported
        self.fields["repair_order"].label_from_instance = lambda o: f"{o.number} · {o.fault[:40]}"
        if self.asset is None or not reported.exists():
            del self.fields["repair_order"]

    def clean(self):
        cleaned = super().clean()
        no_fault = not cleaned.get("repair_order") and not (cleaned.get("fault") or "").strip()
        if no_fault and "fault" not in self.errors:
            self.add_error("fault", _("Describe the fault."))
        self._not_future("sent_on")
        return cleaned


class RepairDoneForm(TransitionForm):
    """Repaired / repair failed: what it cost and what the vendor found."""

    actual_cost = _money_field(_("Actual cost (CNY)"))
    result = forms.CharField(
        label=_("Result"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    returned_on = _date_field(_("Returned on"), required=True)
    attachment = _file_field(_("Invoice or report"), _("Optional: JPEG, PNG, WebP, GIF or PDF."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("returned_on", self.today)
        if self.transition is not None and self.transition.name == "repair_failed":
            self.fields["result"].required = True
            self.fields["result"].error_messages["required"] = _("Say why the repair failed.")

    def clean(self):
        cleaned = super().clean()
        self._not_future("returned_on")
        return cleaned


class RequestDisposalForm(TransitionForm):
    """Request disposal (申请报废): the reason goes to the approvers."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Give a reason for the disposal.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["note"]  # the reason is the note

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        return {"note": data["reason"], "data": data}


class DisposeForm(TransitionForm):
    """Dispose (处置): how, for how much, when, and the certificate."""

    method = forms.ChoiceField(
        label=_("Disposal method"),
        choices=[("", "---------"), *DisposalMethod.choices],
        error_messages={"required": _("Choose how the asset is disposed of.")},
    )
    proceeds = _money_field(_("Proceeds (CNY)"))
    disposed_on = _date_field(_("Disposed on"), required=True)
    certificate = _file_field(
        _("Certificate"), _("E.g. the recycler's certificate of destruction (JPEG, PNG or PDF).")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("disposed_on", self.today)

    def clean(self):
        cleaned = super().clean()
        sale = cleaned.get("method") == DisposalMethod.SALE
        if sale and cleaned.get("proceeds") is None and "proceeds" not in self.errors:
            self.add_error("proceeds", _("Enter the proceeds of the sale."))
        self._not_future("disposed_on")
        return cleaned
