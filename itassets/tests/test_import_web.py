"""The web import at /imports/: permissions, templates from live fields, upload → validation
task → preview with every error → confirm → background import; one run on a real worker."""

import csv
import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from openpyxl import load_workbook

from assets.models import Asset, AssetEvent
from assets.tests.import_helpers import make_catalog
from itassets.importing import jobs
from itassets.models import ImportJob
from itassets.xlsx import XlsxWriter

HEADER = ["资产编号", "型号", "序列号", "使用部门", "购置日期", "金额", "内存"]
GOOD = [
    ["", "ThinkPad X1", "SN1", "QA", "2024/5/1", "¥1,000", "8GB"],
    ["", "21KC", "SN2", "总部/研发中心", "20240502", "2000元", "16GB"],
]
BAD = [
    ["", "ThinkPad X1", "SN1", "无此部门", "2024/5/1", "¥1,000", "8GB"],
    ["", "21KC", "SN2", "总部/研发中心", "明天", "2000元", "16GB"],
]


@pytest.fixture
def catalog(db):
    return make_catalog()


@pytest.fixture
def clerk_client(client_as):
    client = client_as("clerk")
    client.cookies["django_language"] = "en"
    return client


def _xlsx(rows, name="assets.xlsx") -> SimpleUploadedFile:
    out = io.BytesIO()
    with XlsxWriter(out) as book:
        sheet = book.sheet("资产")
        for row in rows:
            sheet.append(row)
    return SimpleUploadedFile(name, out.getvalue())


def _upload(client, upload, capture, **extra):
    with capture(execute=True):
        return client.post("/imports/", {"kind": "assets", "file": upload, **extra})


@pytest.mark.parametrize("role", ["employee", "dept_head", "auditor", "keeper"])
def test_only_clerks_and_admins_may_import(catalog, client_as, role):
    client = client_as(role)

    assert client.get("/imports/").status_code == 403
    assert client.get("/imports/template.xlsx", {"kind": "assets"}).status_code == 403


def test_the_page_offers_what_the_user_may_import(catalog, clerk_client):
    response = clerk_client.get("/imports/")

    assert response.status_code == 200
    kinds = [value for value, _label in response.context["form"].fields["kind"].choices]
    assert kinds[:6] == ["assets", "people", "departments", "locations", "categories", "models"]


def test_the_template_is_generated_from_the_live_fields(catalog, clerk_client):
    # when a clerk downloads the asset template for the laptop category
    response = clerk_client.get(
        "/imports/template.xlsx", {"kind": "assets", "category": catalog["laptop"].pk}
    )

    # then it has the asset columns, required ones marked, the category's custom fields
    # (inherited ones first), example rows and an instructions sheet
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    data, guide = book.worksheets
    header = [c.value for c in data[1]]
    assert header[:6] == [
        "Asset tag",
        "Name",
        "Category",
        "Manufacturer",
        "Model*",
        "Serial number",
    ]
    assert header[-3:] == ["内存插槽", "内存*", "处理器"]
    examples = list(data.iter_rows(min_row=2, values_only=True))
    assert len(examples) == 2
    assert examples[0][4] == "ThinkPad X1"
    assert guide.title == "Instructions"
    assert [r[0] for r in guide.iter_rows(min_row=2, max_row=3, values_only=True)] == [
        "Asset tag",
        "Name",
    ]


def test_the_template_imports_as_it_is(catalog, clerk_client, tmp_path):
    from itassets.importing.service import import_file

    response = clerk_client.get(
        "/imports/template.xlsx", {"kind": "assets", "category": catalog["laptop"].pk}
    )
    path = tmp_path / "template.xlsx"
    path.write_bytes(b"".join(response.streaming_content))

    with translation.override("en"):
        result = import_file(kind="assets", path=path, dry_run=True)

    # the example rows are valid (they use the live catalog and the custom fields' options)
    assert (result.errors, result.created) == ([], 2)


def test_a_file_with_errors_shows_every_problem_and_the_highlighted_rows(
    catalog, clerk_client, django_capture_on_commit_callbacks
):
    # when a clerk uploads a file with two bad cells
    response = _upload(
        clerk_client, _xlsx([["资产台账"], HEADER, *BAD]), django_capture_on_commit_callbacks
    )

    # then the validation ran (eagerly here) and the job page shows the errors
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == f"/imports/{job.pk}/"
    assert (job.state, job.rows, job.error_count, job.created_count) == ("invalid", 2, 2, 0)
    assert [(e["row"], e["column"], e["value"]) for e in job.errors] == [
        (3, "使用部门", "无此部门"),
        (4, "购置日期", "明天"),
    ]
    page = clerk_client.get(response.url)
    html = page.content.decode()
    assert 'data-testid="error-preview"' in html
    assert html.count('class="table-danger"') == 2
    assert "Unknown department “无此部门”: give its code or full path." in html
    assert 'data-testid="confirm-import"' not in html
    # the error workbook downloads with the bad cells in red
    workbook = clerk_client.get(f"/imports/{job.pk}/errors.xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(workbook.streaming_content))).worksheets[0]
    assert sheet["D2"].fill.fgColor.rgb == "FFFFC7CE"
    assert sheet["E3"].fill.fgColor.rgb == "FFFFC7CE"
    assert sheet["D3"].fill.fgColor.rgb != "FFFFC7CE"
    assert not Asset.objects.exists()


def test_a_good_file_is_previewed_then_imported_after_confirmation(
    catalog, clerk_client, django_capture_on_commit_callbacks
):
    # given an uploaded file without errors
    _upload(clerk_client, _xlsx([HEADER, *GOOD]), django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    assert (job.state, job.created_count) == ("valid", 2)
    assert not Asset.objects.exists()
    page = clerk_client.get(f"/imports/{job.pk}/").content.decode()
    assert 'data-testid="confirm-import"' in page

    # when the clerk confirms (htmx)
    with django_capture_on_commit_callbacks(execute=True):
        response = clerk_client.post(f"/imports/{job.pk}/confirm/", headers={"HX-Request": "true"})

    # then the panel polls while the task runs, and reports the import when it is done
    assert 'data-state="queued"' in response.content.decode()
    assert "<html" not in response.content.decode()
    job.refresh_from_db()
    assert job.state == "done"
    panel = clerk_client.get(f"/imports/{job.pk}/", headers={"HX-Request": "true"})
    assert 'data-testid="job-done"' in panel.content.decode()
    assert "hx-trigger" not in panel.content.decode()
    assert Asset.objects.count() == 2
    assert set(AssetEvent.objects.values_list("payload__file", flat=True)) == {"assets.xlsx"}
    assert set(Asset.objects.values_list("created_by", flat=True)) == {clerk_client.user.pk}
    # a second confirmation is refused
    again = clerk_client.post(f"/imports/{job.pk}/confirm/", headers={"HX-Request": "true"})
    assert "Only a checked file without errors can be imported." in again.content.decode()
    assert Asset.objects.count() == 2


def test_a_running_job_polls_its_panel(catalog, clerk_client, clerk):
    # given a job still waiting for its worker
    job = ImportJob.objects.create(
        kind="assets",
        file="imports/x.xlsx",
        original_name="x.xlsx",
        created_by=clerk_client.user,
    )

    page = clerk_client.get(f"/imports/{job.pk}/")
    fragment = clerk_client.get(f"/imports/{job.pk}/", headers={"HX-Request": "true"})

    assert 'hx-trigger="every 1s"' in page.content.decode()
    assert fragment.content.decode().lstrip().startswith('<div id="job-panel"')
    # and other clerks cannot see it
    other = clerk_client.__class__()
    other.force_login(clerk)
    assert other.get(f"/imports/{job.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("name", "content"),
    [("x.pdf", b"%PDF-1.4"), ("x.xlsx", b"not a zip"), ("x.csv", b"PK\x03\x04zip")],
)
def test_only_workbooks_and_csv_files_are_accepted(
    catalog, clerk_client, django_capture_on_commit_callbacks, name, content
):
    response = _upload(
        clerk_client, SimpleUploadedFile(name, content), django_capture_on_commit_callbacks
    )

    assert response.status_code == 400
    assert "is not an .xlsx workbook or a .csv file." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused(
    catalog, clerk_client, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_MAX_BYTES = 100

    response = _upload(clerk_client, _xlsx([HEADER, *GOOD]), django_capture_on_commit_callbacks)

    assert response.status_code == 400
    assert "The file is too large" in response.content.decode()


def test_a_gbk_csv_with_an_unknown_column_is_checked(
    catalog, clerk_client, django_capture_on_commit_callbacks
):
    rows = [[*HEADER, "其他"], *[[c.replace("¥", "￥") for c in g] + ["x"] for g in GOOD]]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    upload = SimpleUploadedFile("资产.csv", text.getvalue().encode("gbk"))

    _upload(clerk_client, upload, django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert (job.state, job.created_count, job.original_name) == ("valid", 2, "资产.csv")
    assert job.warnings == ["Columns not imported (unknown headers): 其他"]


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_validates_and_imports(celery_worker, client_as):
    # given a catalog and an upload, with tasks sent to a real worker
    make_catalog()
    client = client_as("clerk")
    client.cookies["django_language"] = "en"
    client.post("/imports/", {"kind": "assets", "file": _xlsx([HEADER, *GOOD])})
    job = ImportJob.objects.get()

    # when the worker has checked it, the clerk confirms and the worker imports it
    job = _wait(job, "valid", celery_worker)
    assert job.created_count == 2
    client.post(f"/imports/{job.pk}/confirm/")
    job = _wait(job, "done", celery_worker)

    # then the assets exist, written by the worker
    assert Asset.objects.count() == 2
    assert jobs.import_job_progress(job) is None


def _wait(job, state, worker, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state == state:
            return job
        if job.state in ("invalid", "failed"):
            break
        time.sleep(0.2)
    pytest.fail(f"job {job.pk} is {job.state}, not {state}\n{job.message}\n{worker.log()}")
