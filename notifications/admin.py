"""Admin for reminder rules, robots, deliveries (read-only log with filters and a resend
action) and heartbeats. The beat schedule itself is django-celery-beat's "Periodic tasks"."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import services
from .forms import ReminderRuleForm, RobotForm
from .models import Delivery, Heartbeat, ReminderRule, Robot

LIST_PER_PAGE = 50


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReminderRule)
class ReminderRuleAdmin(admin.ModelAdmin):
    form = ReminderRuleForm
    list_display = ["__str__", "kind", "enabled", "lead_days", "params", "channels", "updated_at"]
    list_filter = ["enabled"]
    list_editable = ["enabled"]
    list_per_page = LIST_PER_PAGE


@admin.register(Robot)
class RobotAdmin(admin.ModelAdmin):
    form = RobotForm
    list_display = ["name", "kind", "department_name", "is_default", "enabled", "has_secret"]
    list_filter = ["kind", "is_default", "enabled"]
    search_fields = ["name", "department_name", "url"]
    list_per_page = LIST_PER_PAGE
    actions = ["send_test"]
    fields = [
        "name",
        "kind",
        "url",
        "department",
        "is_default",
        "enabled",
        "secret",
        "clear_secret",
    ]

    @admin.display(boolean=True, description=_("secret"))
    def has_secret(self, obj):
        return bool(obj.secret)

    @admin.action(description=_("Send a test message to me through the selected robots"))
    def send_test(self, request, queryset):
        for robot in queryset:
            delivery = services.test_message_send(
                user=request.user, channel=robot.kind, robot=robot
            )
            if delivery.status == Delivery.Status.SENT:
                self.message_user(request, gettext("%(robot)s: sent.") % {"robot": robot})
            else:
                self.message_user(
                    request,
                    gettext("%(robot)s: %(error)s")
                    % {"robot": robot, "error": delivery.last_error},
                    level=messages.ERROR,
                )


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "recipient",
        "channel",
        "event_type",
        "subject_short",
        "status",
        "attempts",
        "sent_at",
        "error_short",
    ]
    list_filter = ["status", "channel", "event_type", "rule", "created_at"]
    search_fields = ["dedup_key", "object_ref", "recipient__username", "last_error"]
    list_select_related = ["recipient"]
    # No date_hierarchy: it needs the MariaDB time zone tables (CONVERT_TZ), often not loaded.
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False  # the log grows large: no second COUNT(*) per page
    actions = ["resend"]
    fields = [
        "recipient",
        "channel",
        "robot",
        "event_type",
        "rule",
        "object_ref",
        "dedup_key",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
        "created_at",
        "payload_pretty",
    ]
    readonly_fields = fields

    @admin.display(description=_("subject"))
    def subject_short(self, obj):
        subject = obj.subject
        return subject if len(subject) <= 60 else subject[:59] + "…"

    @admin.display(description=_("last error"))
    def error_short(self, obj):
        return obj.last_error[:80]

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj):
        text = json.dumps(obj.payload, ensure_ascii=False, indent=2, sort_keys=True)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.action(description=_("Send again"), permissions=["resend"])
    def resend(self, request, queryset):
        count = 0
        for delivery in queryset.exclude(status=Delivery.Status.SENT):
            services.delivery_resend(delivery=delivery)
            count += 1
        self.message_user(request, gettext("%(count)d deliveries queued again.") % {"count": count})

    def has_resend_permission(self, request):
        return request.user.has_perm("notifications.change_delivery")


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_seen", "detail", "runs"]
    readonly_fields = ["name", "last_seen", "detail", "runs"]
