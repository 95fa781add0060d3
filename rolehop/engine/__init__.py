"""The engine: chains, credential providers, and the use cases over one context."""
