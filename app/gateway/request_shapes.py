"""What a well-formed OpenAI request body looks like, checked once before anything runs.

A body of the wrong shape is refused with 400 in the OpenAI envelope and
``param`` naming the field as OpenAI does (``messages[0].role``), instead of
failing somewhere downstream as a 500. The pieces of a chat body are in
``app.gateway.chat_shapes``, the wording of a refusal in ``app.gateway.shape_refusal``;
the configured caps (``PINYARD_MAX_N``, ``PINYARD_MAX_MESSAGES``) come in as
``BodyLimits`` (the ``Settings``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol, cast

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from app.gateway.chat_shapes import (
    Message,
    NonEmpty,
    ResponseFormat,
    Shape,
    StreamOptions,
    Tool,
    ToolChoice,
)
from app.gateway.shape_refusal import refusal

# No model answers with more tokens than this; a larger value is a client bug.
MAX_OUTPUT_TOKENS = 1_000_000
# OpenAI's own limit on the inputs of one embeddings call.
MAX_EMBEDDING_INPUTS = 2048


class BodyLimits(Protocol):
    """The configured caps a body is checked against (``PINYARD_MAX_*``; ``Settings``)."""

    @property
    def max_n(self) -> int: ...
    @property
    def max_messages(self) -> int: ...


# -- request bodies ------------------------------------------------------------

OutputTokens = Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS)]


class ChatRequest(Shape):
    """``POST /v1/chat/completions``; ``variables`` is checked against the bundle later."""

    model: NonEmpty
    messages: Annotated[list[Message], Field(min_length=1)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    stop: str | list[str] | None = None
    max_tokens: OutputTokens | None = None
    max_completion_tokens: OutputTokens | None = None
    n: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    logit_bias: dict[str, int | float] | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None

    @field_validator("n")
    @classmethod
    def _n_within_cap(cls, value: int | None, info: ValidationInfo) -> int | None:
        cap = _limits(info).max_n
        if value is not None and value > cap:
            raise ValueError(f"at most {cap} choices per request (PINYARD_MAX_N)")
        return value

    @field_validator("messages", mode="before")
    @classmethod
    def _messages_within_cap(cls, value: Any, info: ValidationInfo) -> Any:
        cap = _limits(info).max_messages  # before the messages themselves are checked
        if isinstance(value, list) and len(value) > cap:
            raise ValueError(f"at most {cap} messages per request (PINYARD_MAX_MESSAGES)")
        return value


EmbeddingInput = (
    NonEmpty
    | Annotated[list[NonEmpty], Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS)]
    | Annotated[list[int], Field(min_length=1)]
    | Annotated[
        list[Annotated[list[int], Field(min_length=1)]],
        Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS),
    ]
)


class EmbeddingRequest(Shape):
    """``POST /v1/embeddings``."""

    model: NonEmpty
    input: EmbeddingInput
    dimensions: Annotated[int, Field(ge=1)] | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None


def _limits(info: ValidationInfo) -> BodyLimits:
    return cast(BodyLimits, info.context)


def check_chat_request(body: dict[str, Any], limits: BodyLimits) -> None:
    _check(ChatRequest, body, limits)


def check_embedding_request(body: dict[str, Any], limits: BodyLimits) -> None:
    _check(EmbeddingRequest, body, limits)


def _check(shape: type[Shape], body: dict[str, Any], limits: BodyLimits) -> None:
    try:
        shape.model_validate(body, context=limits)
    except ValidationError as exc:
        raise refusal(exc, body) from None
