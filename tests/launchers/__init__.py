"""Tests of the launchers, with real processes."""
