"""Input and output checks a bundle declares, compiled once per bundle digest.

``apply`` compiles and runs them in order (block, redact or flag); one module per
check family: ``pii``, ``patterns`` (deny lists, prompt injection), ``limits``
(tokens, length) and ``schema`` (output JSON Schema); ``stream`` checks a
streamed answer once it is assembled.
"""
