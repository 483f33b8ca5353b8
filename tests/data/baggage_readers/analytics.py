"""Frontend analytics ids and the MCP client's name, read from inbound baggage."""

from opentelemetry import baggage as b
from opentelemetry.baggage import get_all
from opentelemetry.baggage import get_baggage as read


def device_id():
    return b.get_baggage("amplitude.device_id")


def session():
    entries = get_all()
    if "amplitude.session_id" in entries:
        return entries["amplitude.session_id"]
    return entries.get("amplitude.platform")


def client_name():
    return read(name="mcp.client_name")
