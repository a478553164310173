"""Processes beside the gateway that run its work: ``batch_worker`` (Dramatiq, batch chunks)."""
