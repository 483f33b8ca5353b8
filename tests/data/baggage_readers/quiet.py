"""No baggage here: the start-up check does not even parse this file."""

VALUE = 1
