"""URLs of the inventory app (namespace ``inventory``, mounted at /inventory/)."""

from django.urls import path

from . import views_api
from .views import count_sheets as count_sheet_views
from .views import documents, items, requisitions, stock
from .views import stocktake_confirmations as confirm_views
from .views import stocktake_results as result_views
from .views import stocktakes as stocktake_views

app_name = "inventory"

urlpatterns = [
    path("items/", items.item_list, name="item_list"),
    path("items/export.<str:fmt>", items.item_export, name="item_export"),
    path("items/<int:pk>/", items.item_detail, name="item_detail"),
    path("documents/", documents.document_list, name="document_list"),
    path("documents/new/<str:doc_type>/", documents.document_create, name="document_create"),
    path("documents/<int:pk>/", documents.document_detail, name="document_detail"),
    path("documents/<int:pk>/edit/", documents.document_edit, name="document_edit"),
    path("documents/<int:pk>/post/", documents.document_post, name="document_post"),
    path("documents/<int:pk>/reverse/", documents.document_reverse, name="document_reverse"),
    path("documents/<int:pk>/delete/", documents.document_delete, name="document_delete"),
    path("documents/<int:pk>/pdf/", documents.document_pdf, name="document_pdf"),
    path("low-stock/", stock.low_stock, name="low_stock"),
    path("low-stock/export.<str:fmt>", stock.low_stock_export, name="low_stock_export"),
    path("requisitions/", requisitions.requisition_queue, name="requisition_queue"),
    path(
        "requisitions/approvals/",
        requisitions.requisition_approvals,
        name="requisition_approvals",
    ),
    path("requisitions/<int:pk>/", requisitions.requisition_detail, name="requisition_detail"),
    path(
        "requisitions/<int:pk>/decide/", requisitions.requisition_decide, name="requisition_decide"
    ),
    path(
        "requisitions/<int:pk>/cancel/", requisitions.requisition_cancel, name="requisition_cancel"
    ),
    path(
        "requisitions/<int:pk>/fulfil/", requisitions.requisition_fulfil, name="requisition_fulfil"
    ),
    # Stocktakes: list, form, detail with progress, start / close / delete, scanning (C1).
    path("stocktakes/", stocktake_views.stocktake_list, name="stocktake_list"),
    path("stocktakes/new/", stocktake_views.stocktake_create, name="stocktake_create"),
    path("stocktakes/<int:pk>/", stocktake_views.stocktake_detail, name="stocktake_detail"),
    path("stocktakes/<int:pk>/edit/", stocktake_views.stocktake_edit, name="stocktake_edit"),
    path("stocktakes/<int:pk>/start/", stocktake_views.stocktake_start, name="stocktake_start"),
    path("stocktakes/<int:pk>/close/", stocktake_views.stocktake_close, name="stocktake_close"),
    path("stocktakes/<int:pk>/delete/", stocktake_views.stocktake_delete, name="stocktake_delete"),
    path("stocktakes/<int:pk>/scan/", stocktake_views.stocktake_scan, name="stocktake_scan"),
    path(
        "stocktakes/<int:pk>/scan/holder/",
        stocktake_views.stocktake_confirm_holder,
        name="stocktake_confirm_holder",
    ),
    # Stocktakes: closing report, applying results, count sheets, self-confirmation (C2).
    path("stocktakes/<int:pk>/report/", result_views.stocktake_report, name="stocktake_report"),
    path(
        "stocktakes/<int:pk>/report.xlsx",
        result_views.stocktake_report_xlsx,
        name="stocktake_report_xlsx",
    ),
    path(
        "stocktakes/<int:pk>/report.pdf",
        result_views.stocktake_report_pdf,
        name="stocktake_report_pdf",
    ),
    path("stocktakes/<int:pk>/apply/", result_views.stocktake_apply_view, name="stocktake_apply"),
    path("stocktakes/<int:pk>/sheets/", count_sheet_views.sheet_list, name="stocktake_sheets"),
    path(
        "stocktakes/<int:pk>/sheets/<int:sheet_pk>/",
        count_sheet_views.sheet_detail,
        name="countsheet_detail",
    ),
    path(
        "stocktakes/<int:pk>/sheets/<int:sheet_pk>/scan/",
        count_sheet_views.sheet_scan,
        name="countsheet_scan",
    ),
    path(
        "stocktakes/<int:pk>/sheets/<int:sheet_pk>/lines/<int:line_pk>/",
        count_sheet_views.line_set,
        name="countline_set",
    ),
    path(
        "stocktakes/<int:pk>/confirmations/",
        confirm_views.confirm_requests,
        name="stocktake_confirm_requests",
    ),
    path(
        "stocktakes/<int:pk>/lines/<int:line_pk>/confirm-photo/",
        confirm_views.confirm_photo,
        name="stocktake_confirm_photo",
    ),
    path("api/issue/", views_api.issue, name="api_issue"),
    path("api/items/<int:pk>/ledger/", views_api.ledger, name="api_ledger"),
]

# /me/ (namespace "me", with the assets app's self-service pages; see itassets/urls.py)
me_urlpatterns = [
    path("requisitions/", requisitions.my_requisitions, name="requisitions"),
    path("requisitions/items/", requisitions.requisition_item_search, name="requisition_items"),
    path(
        "stocktake-confirmations/",
        confirm_views.my_confirmations,
        name="stocktake_confirmations",
    ),
    path(
        "stocktake-confirmations/<int:line_pk>/",
        confirm_views.my_confirm,
        name="stocktake_confirm",
    ),
]
