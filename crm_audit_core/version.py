"""The version of the crm-audit distribution (its own module, so the engine can name it without importing the package)."""

__version__ = "0.1.0"
