"""rolehop's version: one place, imported by the package and the agent's protocol."""

__version__ = "0.1.0"
