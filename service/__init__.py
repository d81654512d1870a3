"""Takedown Tracker: gets known CSAM URLs taken down and measures how fast."""

__version__ = "0.1.0"
