"""The agent: a per-user process that serves cached credentials from memory.

``protocol`` (imported on the hot path), ``service`` (what a request gets), ``server`` (the
socket), ``client`` (start/stop/status/forget for the direct path), ``peer`` (who connects).
"""
