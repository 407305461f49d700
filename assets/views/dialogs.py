"""Form dialogs of the approval, request and self-service pages.

A button on a page does ``hx-get`` of the form's URL into ``#dialog-slot``; the answer is a
``<dialog>`` that the slot opens (``showModal``). The form posts back into the slot:
invalid → the dialog again (status 200: htmx does not swap error statuses by default);
valid → an empty slot (the dialog disappears), the
page regions that changed swapped out of band, the messages, and an ``HX-Trigger`` event.
Without JavaScript the same URL is a page with the form, and a valid POST redirects.
"""

from __future__ import annotations

from django.shortcuts import redirect, render

DIALOG_TEMPLATE = "assets/workflow_dialog.html"
DONE_TEMPLATE = "assets/partials/workflow_done.html"


def is_fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def form_dialog(
    request,
    *,
    form,
    title: str,
    action: str,
    back_url: str,
    submit_label: str = "",
    decision: bool = False,
    summary: list | None = None,
    closed: str = "",
):
    """The form as a ``<dialog>`` fragment (htmx) or as a page of its own.

    ``closed``: why the form can no longer be submitted (shown instead of its buttons)."""
    context = {
        "form": form,
        "title": title,
        "action": action,
        "back_url": back_url,
        "submit_label": submit_label,
        "decision": decision,
        "summary": summary or [],
        "closed": closed,
        "in_dialog": is_fragment(request),
    }
    if context["in_dialog"]:
        return render(request, f"{DIALOG_TEMPLATE}#dialog", context)
    return render(request, DIALOG_TEMPLATE, context)


def done(request, *, url: str, event: str, regions: list[str] | None = None, context=None):
    """After a successful POST: htmx gets the changed regions out of band, else a redirect.

    ``regions`` are template partial names (``"app/page.html#name"``) rendered with
    ``context`` and ``oob=True`` (each partial puts ``hx-swap-oob`` on its root then)."""
    if not request.htmx:
        return redirect(url)
    response = render(
        request, DONE_TEMPLATE, {**(context or {}), "regions": regions or [], "oob": True}
    )
    response["HX-Trigger"] = event
    return response
