# The real gateways of the notification tests, for the end-to-end alarm tests.
from tests.notifications.conftest import adapters, mailbox, sms_gateway, wechat_gateway  # noqa: F401
