"""package-registry: a Python implementation of the Elastic Package Registry."""

__version__ = "0.1.0"
