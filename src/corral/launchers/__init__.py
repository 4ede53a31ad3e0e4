"""Launchers start and stop worker processes wherever they live."""
