"""Turning retrieved passages into an Answer."""
