"""What a pinned model's provider supports, as litellm's model map says.

Lets the gateway send a bundle's ``output_schema`` as a ``json_schema``
``response_format`` only where the provider honours it. ``fake/`` models
support everything the fake provider simulates.
"""

from __future__ import annotations

from app.providers.fake import FAKE_PREFIX


def supports_response_schema(model: str) -> bool:
    if model.startswith(FAKE_PREFIX):
        return True
    from app.providers.litellm_import import litellm

    return bool(litellm.supports_response_schema(model=model))
