"""Schemathesis fuzzes every operation of the OpenAPI schema against a live server with a valid token: no 500s.

The token holds every capability (an administrator's), so the cases reach the views rather than
stopping at 403; bad input must come back as 4xx with a reason, never as a server error.
"""

import pytest
import schemathesis
from django.test import override_settings
from hypothesis import HealthCheck, given, settings

from meterhub.accounts import tokens
from meterhub.accounts.roles import Role, capabilities_of
from meterhub.api.urls import api

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = 40


@pytest.fixture
def records(collector):
    """Something for every list to send: an account with a payment, a refund and a bill, a tenancy, daily figures."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from meterhub.assets import history
    from meterhub.billing import payments
    from meterhub.billing.models import Bill, BillLine
    from meterhub.headend.records import ReadingRecord
    from meterhub.readings import processing
    from meterhub.readings.ingest import store_readings
    from tests.billing.conftest import make_account

    account = make_account(collector.site, "F1", switch="relay", collector=collector)
    history.move_in(account.customer, account.premise, datetime(2026, 1, 1, tzinfo=UTC))
    payments.refund(payments.take_payment(account, Decimal("9.99"), method="cash"), Decimal("1.00"))
    bill = Bill.objects.create(account=account, period="2026-02", period_start=date(2026, 2, 1),
                               period_end=date(2026, 3, 1), issued_on=date(2026, 3, 1), due_on=date(2026, 3, 16),
                               opening_balance=0, charges=1, closing_balance=-1, amount_due=1)
    BillLine.objects.create(bill=bill, position=1, code="standing", quantity=1, unit="month", unit_price=1, amount=1)
    store_readings([ReadingRecord(account.meter_id, "energy_import", datetime(2026, 3, 1, h, tzinfo=UTC),
                                  Decimal(h), Decimal(1), "kWh", "scheduled") for h in range(0, 24, 6)])
    while processing.process_dirty():
        pass


def test_no_operation_answers_500(live_server, make_operator, collector, records):
    admin = make_operator(Role.ADMINISTRATOR)
    _token, secret = tokens.create_token(admin, "fuzz", capabilities_of(Role.ADMINISTRATOR), days=1)
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
    server_errors, statuses = [], set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    def fuzzer(operation):
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def fuzz(case):
            response = case.call(base_url=live_server.url, headers=headers)
            statuses.add(response.status_code)
            if response.status_code >= 500:
                server_errors.append((operation.label, response.status_code, case.as_curl_command()))

        return fuzz

    with override_settings(API_RATE_LIMIT=1_000_000):
        for operation in operations:
            fuzzer(operation)()
    assert server_errors == []
    # never 401/403: the token is valid (409: a payment reference reused for another amount)
    assert 200 in statuses and statuses - {200, 201} <= {400, 404, 409, 422}
