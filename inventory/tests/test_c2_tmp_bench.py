import io
import time
from decimal import Decimal

from assets.models import Asset
from assets.tests.factories import AssetModelFactory, LocationFactory, PersonFactory
from inventory.models import StocktakeExpected
from inventory.services import stocktakes as services
from inventory.services.stocktake_results import stocktake_report
from inventory.stocktake_export import write_report_xlsx
from inventory.stocktake_pdf import render_stocktake_report


def test_bench(make_user):
    manager = make_user("clerk")
    root = LocationFactory(name="总部")
    rooms = [LocationFactory(parent=root, name=f"R{i}") for i in range(40)]
    people = [PersonFactory() for _ in range(50)]
    model = AssetModelFactory()
    Asset.objects.bulk_create(
        [
            Asset(tag=f"BN-{i:06d}", model=model, category_id=model.category_id,
                  manufacturer_id=model.manufacturer_id, name="笔记本", status="in_use",
                  holder=people[i % 50], location=rooms[i % 40], cost=Decimal("4999.00"))
            for i in range(20000)
        ],
        batch_size=2000,
    )
    st = services.stocktake_create(actor=manager, name="bench", locations=[root], counters=[manager])
    st = services.stocktake_start(actor=manager, stocktake=st)
    ids = list(StocktakeExpected.objects.filter(stocktake=st).order_by("id").values_list("id", flat=True))
    StocktakeExpected.objects.filter(id__in=ids[:12000]).update(result="found", method="scan", found_location=rooms[1])
    StocktakeExpected.objects.filter(id__in=ids[12000:13000]).update(result="location_mismatch", found_location=rooms[0])
    st = services.stocktake_close(actor=manager, stocktake=st)
    for _ in range(2):
        t = time.perf_counter(); cpu = time.process_time()
        r = stocktake_report(stocktake=st)
        out = io.BytesIO(); write_report_xlsx(r, out)
        print("report+xlsx_ms", round((time.perf_counter() - t) * 1000), "cpu", round((time.process_time() - cpu) * 1000))
    import cProfile
    pr = cProfile.Profile()
    t = time.perf_counter(); cpu = time.process_time()
    pdf = render_stocktake_report(r)
    pr.disable()
    print("pdf_ms", round((time.perf_counter() - t) * 1000), "cpu", round((time.process_time() - cpu) * 1000), len(pdf))
