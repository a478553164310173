"""Batch scoring: the OpenAI Files and Batch API over aliases, pinned at submission.

``service`` (upload, create, read, cancel), ``jsonl`` (an input file, line by line),
``objects`` (the wire shapes), ``endpoints`` (what a line needs from the gateway),
``batch_runtime`` (assembled for one process).
"""
