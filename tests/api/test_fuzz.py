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


def test_no_operation_answers_500(live_server, make_operator, collector):
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
    assert 200 in statuses and statuses - {200, 201} <= {400, 404, 422}  # never 401/403: the token is valid
