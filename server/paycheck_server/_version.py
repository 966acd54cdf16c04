"""The version of the payment server."""

__version__ = "0.1.0"
