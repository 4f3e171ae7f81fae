"""The version of sld (the facade re-exports it as ``sld.__version__``)."""

__version__ = "0.1.0"
