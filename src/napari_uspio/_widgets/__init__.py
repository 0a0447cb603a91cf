"""Dock widgets: thin adapters over the core."""
