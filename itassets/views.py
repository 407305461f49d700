from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse

from assets.lifecycle import STATUS_BADGE, Status
from assets.selectors import DASHBOARD_WARRANTY_DAYS, asset_dashboard


def _list_url(**params) -> str:
    query = QueryDict(mutable=True)
    query.update(params)
    return f"{reverse('assets:list')}?{query.urlencode()}"


def dashboard_context(counts: dict | None) -> dict | None:
    """The home page's figures with links into the filtered list and the chart's data."""
    if counts is None:
        return None
    statuses = [
        {
            "code": s.value,
            "label": str(s.label),
            "count": counts["by_status"].get(s.value, 0),
            "badge": STATUS_BADGE[s],
            "url": _list_url(status=s.value),
        }
        for s in Status
    ]
    categories = [{**c, "url": _list_url(category=c["id"])} for c in counts["by_category"]]
    return {
        "total": counts["total"],
        "statuses": statuses,
        "categories": categories,
        "warranty_soon": counts["warranty_soon"],
        "warranty_days": DASHBOARD_WARRANTY_DAYS,
        "warranty_url": _list_url(warranty_days=DASHBOARD_WARRANTY_DAYS),
        "list_url": reverse("assets:list"),
        "chart": {
            "status": {
                "labels": [s["label"] for s in statuses if s["count"]],
                "counts": [s["count"] for s in statuses if s["count"]],
                "badges": [s["badge"] for s in statuses if s["count"]],
            },
            "category": {
                "labels": [c["name"] for c in categories],
                "counts": [c["count"] for c in categories],
            },
        },
    }


@login_required
def home(request):
    """The landing page: the register's counts within the user's data scope."""
    dashboard = dashboard_context(asset_dashboard(user=request.user))
    return render(request, "home.html", {"dashboard": dashboard})
