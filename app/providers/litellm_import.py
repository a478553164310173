"""Import litellm configured for a gateway: offline cost map, quiet logs.

Every module that needs litellm imports it from here, so the settings below
apply before litellm's own import-time code runs. Importing costs ~1.7 s.
"""

from __future__ import annotations

import logging
import os
import warnings

# Without this litellm downloads its model cost map from GitHub at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

# litellm prints "Give Feedback / Get Help" banners on errors and its debug
# logs can include request parameters; keep both out of the gateway's output.
litellm.suppress_debug_info = True
# Token counting must never fetch a tokenizer from a hub at request time.
litellm.disable_hf_tokenizer_download = True
for _name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
    logging.getLogger(_name).setLevel(logging.WARNING)
# Its response types build lazily and pydantic warns about a ReadOnly TypedDict
# item on the first request; harmless, and noise in the gateway's stderr.
warnings.filterwarnings("ignore", message=r".*`ReadOnly` qualifier", category=UserWarning)

__all__ = ["litellm"]
