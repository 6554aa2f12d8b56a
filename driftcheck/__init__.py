"""driftcheck: catch drift between declared PPIO endpoint specs and live endpoints."""

__version__ = "0.1.0"
