"""The demo's SMS gateway prints each text on the demo's terminal; a real gateway wins."""

import io

from meterhub.notifications import channels
from meterhub.notifications.models import Message


def test_without_a_gateway_the_demo_prints_texts_on_its_terminal():
    adapters = channels.from_environment({"METERHUB_SMS_TO_TERMINAL": "1"})
    out = io.StringIO()
    adapters["sms"].out = out
    message = Message(channel="sms", recipient="13800000001", event="portal.sign_in", body="Your code is 123456")
    assert channels.deliver(adapters, message) == (True, "terminal", False)
    assert out.getvalue() == "  [SMS to 13800000001] Your code is 123456\n"


def test_a_configured_gateway_wins_and_nothing_prints_by_default():
    both = channels.from_environment({"METERHUB_SMS_TO_TERMINAL": "1", "METERHUB_SMS_URL": "http://127.0.0.1:9/sms"})
    assert isinstance(both["sms"], channels.HttpSmsGateway)
    assert "sms" not in channels.from_environment({})
