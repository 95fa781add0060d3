"""rolehop: become AWS roles, hop after hop, with credentials cached in the OS keyring."""

from __future__ import annotations

__version__ = "0.1.0"
