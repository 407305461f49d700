"""Admin for the lifecycle: read-only records and transition actions on assets.

- AssetEvent, ApprovalRequest (with its steps), RepairOrder, Handover and AssetRequest are
  written only by the lifecycle services: the admin lists and shows them, never adds, changes
  or deletes. Every changelist loads its relations with ``list_select_related``.
- ``TransitionActionsMixin`` adds one action per transition in ``ADMIN_TRANSITIONS`` to the
  asset changelist. Like Django's delete confirmation, the action first shows an intermediate
  page with the selected assets and the transition's own form (``assets.forms_lifecycle``);
  confirming runs ``assets.services.asset_transition_bulk`` — all of the selection or none —
  and reports each asset's error with ``message_user``. The admin never writes ``status``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.module_loading import import_string
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .lifecycle import TRANSITIONS, Status
from .models import (
    ApprovalRequest,
    ApprovalStep,
    AssetEvent,
    AssetRequest,
    Handover,
    RepairOrder,
)

LIST_PER_PAGE = 50
# Transitions offered as asset changelist actions. The ones that need an approval start
# from the asset pages (approval requests); assign/loan/transfer choose people there.
ADMIN_TRANSITIONS = (
    "receive",
    "return",
    "send_to_repair",
    "repair_done",
    "cancel_disposal",
    "found",
)
# A transition runs in one transaction over the selection: keep it to a sane size.
MAX_ASSETS_PER_ACTION = 200
FORM_PREFIX = "transition"
CONFIRMATION_TEMPLATE = "admin/assets/asset/transition_confirmation.html"


# --- Read-only records --------------------------------------------------------------------------


class LifecycleRecordAdmin(admin.ModelAdmin):
    """Viewable by whoever may view the model; written only by the lifecycle services."""

    list_per_page = LIST_PER_PAGE
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _transition_label(name: str) -> str:
    t = TRANSITIONS.get(name)
    return str(t.label) if t is not None else name


@admin.register(AssetEvent)
class AssetEventAdmin(LifecycleRecordAdmin):
    list_display = (
        "occurred_at",
        "asset",
        "action",
        "from_status",
        "to_status",
        "actor",
        "handover",
    )
    list_filter = ("transition", "to_status")
    list_select_related = ("asset", "actor", "handover")
    search_fields = ("^asset__tag", "note")
    search_help_text = _("Asset tag (prefix) or note.")
    ordering = ("-occurred_at", "-id")
    fields = (
        "asset",
        "transition",
        "from_status",
        "to_status",
        "actor",
        "occurred_at",
        "note",
        "payload",
        "handover",
    )

    @admin.display(description=_("action"), ordering="transition")
    def action(self, obj):
        return _transition_label(obj.transition)


class ApprovalStepInline(admin.TabularInline):
    model = ApprovalStep
    fields = ("number", "role", "approver", "decision", "decided_by", "decided_at", "comment")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("approver", "decided_by")


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(LifecycleRecordAdmin):
    inlines = (ApprovalStepInline,)
    list_display = (
        "id",
        "asset",
        "action",
        "state",
        "previous_status",
        "current_step",
        "requested_by",
        "requested_at",
        "decided_at",
    )
    list_filter = ("state", "transition")
    list_select_related = ("asset", "requested_by")
    search_fields = ("^asset__tag", "reason")
    search_help_text = _("Asset tag (prefix) or reason.")
    ordering = ("-requested_at", "-id")

    @admin.display(description=_("action"), ordering="transition")
    def action(self, obj):
        return _transition_label(obj.transition)


@admin.register(RepairOrder)
class RepairOrderAdmin(LifecycleRecordAdmin):
    list_display = (
        "number",
        "asset",
        "state",
        "vendor",
        "reported_by",
        "reported_at",
        "sent_on",
        "returned_on",
        "expected_cost",
        "actual_cost",
    )
    list_filter = ("state", "sent_on")
    list_select_related = ("asset", "vendor", "reported_by")
    search_fields = ("=number", "^asset__tag", "fault", "vendor__name")
    search_help_text = _("Number (exact), asset tag (prefix), fault or vendor.")
    ordering = ("-reported_at", "-id")


@admin.register(Handover)
class HandoverAdmin(LifecycleRecordAdmin):
    list_display = (
        "number",
        "action",
        "from_person",
        "to_person",
        "to_department",
        "location",
        "created_by",
        "created_at",
        "needs_acceptance",
        "accepted_at",
    )
    list_filter = ("transition", "needs_acceptance")
    list_select_related = (
        "from_person",
        "to_person",
        "to_department",
        "location",
        "created_by",
    )
    search_fields = ("=number", "to_person__name", "=to_person__employee_no")
    search_help_text = _("Number (exact), recipient's name or employee number.")
    ordering = ("-created_at", "-id")
    exclude = ("pdf",)  # the file opens through the checked download view, not storage

    @admin.display(description=_("action"), ordering="transition")
    def action(self, obj):
        return _transition_label(obj.transition)


@admin.register(AssetRequest)
class AssetRequestAdmin(LifecycleRecordAdmin):
    list_display = (
        "id",
        "requester",
        "department",
        "category",
        "model",
        "state",
        "needed_by",
        "created_at",
        "decided_by",
        "fulfilled_asset",
    )
    list_filter = ("state",)
    list_select_related = (
        "requester",
        "department",
        "category",
        "model__manufacturer",
        "decided_by",
        "fulfilled_asset",
    )
    search_fields = ("requester__name", "=requester__employee_no", "reason")
    search_help_text = _("Requester's name, employee number (exact) or reason.")
    ordering = ("-created_at", "-id")


# --- Transition actions on assets ---------------------------------------------------------------


def transition_form(name: str, data=None):
    """The transition's own form for a selection (no single asset); file fields are left out
    because one upload cannot be attached to several assets."""
    t = TRANSITIONS[name]
    form = import_string(t.form)(data, asset=None, transition=t, prefix=FORM_PREFIX)
    for field_name in [n for n, f in form.fields.items() if isinstance(f, forms.FileField)]:
        del form.fields[field_name]
    return form


def _make_action(name: str):
    t = TRANSITIONS[name]

    def action(modeladmin, request, queryset):
        return modeladmin.transition_selected(request, queryset, name)

    action.__name__ = f"transition_{name}"
    return admin.action(description=capfirst(t.label))(action)


TRANSITION_ACTIONS = [_make_action(name) for name in ADMIN_TRANSITIONS]


class TransitionActionsMixin:
    """Transition actions for the Asset admin (list the actions in ``actions``)."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name in ADMIN_TRANSITIONS:
            if not request.user.has_perm(TRANSITIONS[name].permission):
                actions.pop(f"transition_{name}", None)
        return actions

    def transition_selected(self, request, queryset, name: str):
        """Step 1 shows the confirmation page; step 2 (``post=yes``) runs the transition."""
        t = TRANSITIONS[name]
        if not request.user.has_perm(t.permission):
            raise PermissionDenied
        related = ("category", "department", "holder", "location")
        limit = MAX_ASSETS_PER_ACTION
        assets = list(queryset.select_related(*related).order_by("tag")[: limit + 1])
        if len(assets) > limit:
            self.message_user(
                request,
                gettext("Select at most %(limit)s assets for one action.") % {"limit": limit},
                messages.ERROR,
            )
            return None
        if request.POST.get("post") == "yes":
            form = transition_form(name, request.POST)
            if form.is_valid():
                self._run_transition(request, assets, name, form)
                return None  # back to the changelist, where the messages show
        else:
            form = transition_form(name)
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("%(action)s: %(count)s assets")
            % {"action": capfirst(t.label), "count": len(assets)},
            "subtitle": None,
            "opts": opts,
            "transition": t,
            "action_name": f"transition_{name}",
            "rows": [
                {
                    "asset": a,
                    "status": Status(a.status).label,
                    "allowed": a.status in t.sources,
                }
                for a in assets
            ],
            "blocked": sum(a.status not in t.sources for a in assets),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, CONFIRMATION_TEMPLATE, context)

    def _run_transition(self, request, assets, name: str, form) -> None:
        from .services.lifecycle import asset_transition_bulk  # written alongside; import late

        arguments = form.service_arguments()
        try:
            events = asset_transition_bulk(
                assets=assets,
                transition=name,
                actor=request.user,
                note=arguments["note"],
                data=arguments["data"],
            )
        except PermissionDenied as exc:
            self.message_user(request, str(exc) or gettext("Not allowed."), messages.ERROR)
        except ValidationError as exc:
            self.message_user(
                request,
                gettext("Nothing was changed: %(action)s failed for some assets.")
                % {"action": TRANSITIONS[name].label},
                messages.ERROR,
            )
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            for key, msgs in errors.items():
                for msg in msgs:
                    self.message_user(request, f"{key}: {msg}" if key else msg, messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("%(action)s: done for %(count)s assets.")
                % {"action": capfirst(TRANSITIONS[name].label), "count": len(events)},
                messages.SUCCESS,
            )
