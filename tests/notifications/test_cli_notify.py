"""`meterhub notify --once` sends what is due through the configured gateway."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from meterhub.cli import main
from meterhub.notifications.dispatch import enqueue
from meterhub.notifications.models import Message


@pytest.mark.django_db(transaction=True)
def test_notify_once_sends_the_queue_and_reports(sms_gateway):
    for n in range(3):
        enqueue("sms", f"1380000000{n}", "test", body=f"hello {n}")
    enqueue("email", "x@example.test", "test", body="no SMTP configured")
    result = CliRunner().invoke(main, ["notify", "--once", "--node", "cli"], env={"METERHUB_SMS_URL": sms_gateway.url})
    assert result.exit_code == 0, result.output
    assert "3 sent" in result.output and len(sms_gateway.accepted) == 3
    failed = Message.objects.get(channel="email")
    assert failed.status == "failed" and "not configured" in failed.error
