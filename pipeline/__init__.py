"""Presseabgleich: German press releases → reconciled people, places and organisations."""

__version__ = "0.1.0"
