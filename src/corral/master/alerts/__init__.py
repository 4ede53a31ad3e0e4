"""Alerts: built-in rules the master evaluates, and the webhooks it notifies."""
