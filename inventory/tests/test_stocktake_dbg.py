from inventory.tests.test_stocktake_views import *  # noqa
from django.db import connection
from django.test.utils import CaptureQueriesContext
def test_dbg(client_as, counter, counting, place):
    client = client_as(user=counter)
    post_scan(client, counting, "V-1", place["room1"])
    with CaptureQueriesContext(connection) as c:
        post_scan(client, counting, "V-2", place["room1"])
    for q in c.captured_queries: print(q["sql"][:300])
