"""The pieces of an OpenAI chat body: messages and their content parts, tools, formats.

Pydantic models, strict (no string-to-number coercion) and open (fields they
do not name pass through): they only *check* a client's body, which the
pipeline then uses as it came. JSON Schemas a client sends (a tool's
``parameters``, ``response_format.json_schema.schema``) are checked against
their meta-schema; a schema seen once is remembered, so a client repeating
the same schema pays for the check once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

import orjson
from jsonschema import Draft202012Validator, SchemaError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field


@lru_cache(maxsize=512)
def _checked_schema(canonical: bytes) -> str | None:
    try:
        Draft202012Validator.check_schema(orjson.loads(canonical))
    except SchemaError as exc:
        return exc.message
    return None


def _json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    problem = _checked_schema(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    if problem is not None:
        raise ValueError(f"not a valid JSON Schema: {problem}")
    return schema


JsonSchema = Annotated[dict[str, Any], AfterValidator(_json_schema)]
NonEmpty = Annotated[str, Field(min_length=1)]


class Shape(BaseModel):
    # Fields not named here pass through: the check never narrows what a client may send.
    model_config = ConfigDict(extra="allow", strict=True)


# -- content parts -------------------------------------------------------------


class TextPart(Shape):
    type: Literal["text"]
    text: str


class ImageUrl(Shape):
    url: NonEmpty
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Shape):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudio(Shape):
    data: str
    format: str


class AudioPart(Shape):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FileRef(Shape):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(Shape):
    type: Literal["file"]
    file: FileRef


class RefusalPart(Shape):
    type: Literal["refusal"]
    refusal: str


UserPart = Annotated[TextPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")]
AssistantPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


# -- messages ------------------------------------------------------------------


class FunctionCall(Shape):
    name: NonEmpty
    arguments: str


class FunctionToolCall(Shape):
    id: str
    type: Literal["function"]
    function: FunctionCall


class CustomCall(Shape):
    name: NonEmpty
    input: str


class CustomToolCall(Shape):
    id: str
    type: Literal["custom"]
    custom: CustomCall


ToolCall = Annotated[FunctionToolCall | CustomToolCall, Field(discriminator="type")]


class SystemMessage(Shape):
    role: Literal["system"]
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(Shape):
    role: Literal["developer"]
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(Shape):
    role: Literal["user"]
    content: str | list[UserPart]
    name: str | None = None


class AssistantMessage(Shape):
    role: Literal["assistant"]
    content: str | list[AssistantPart] | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    refusal: str | None = None
    name: str | None = None


class ToolMessage(Shape):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(Shape):
    role: Literal["function"]
    name: NonEmpty
    content: str | None


Message = Annotated[
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage,
    Field(discriminator="role"),
]


# -- tools and formats ---------------------------------------------------------


class FunctionDefinition(Shape):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    description: str | None = None
    parameters: JsonSchema | None = None
    strict: bool | None = None


class FunctionTool(Shape):
    type: Literal["function"]
    function: FunctionDefinition


class CustomDefinition(Shape):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    description: str | None = None
    format: dict[str, Any] | None = None


class CustomTool(Shape):
    type: Literal["custom"]
    custom: CustomDefinition


Tool = Annotated[FunctionTool | CustomTool, Field(discriminator="type")]


class NamedTool(Shape):
    name: NonEmpty


class NamedFunctionChoice(Shape):
    type: Literal["function"]
    function: NamedTool


class NamedCustomChoice(Shape):
    type: Literal["custom"]
    custom: NamedTool


class AllowedTools(Shape):
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class AllowedToolsChoice(Shape):
    type: Literal["allowed_tools"]
    allowed_tools: AllowedTools


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[
        NamedFunctionChoice | NamedCustomChoice | AllowedToolsChoice,
        Field(discriminator="type"),
    ]
)


class TextFormat(Shape):
    type: Literal["text"]


class JsonObjectFormat(Shape):
    type: Literal["json_object"]


class JsonSchemaSpec(Shape):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    description: str | None = None
    schema_: JsonSchema | None = Field(default=None, alias="schema")
    strict: bool | None = None


class JsonSchemaFormat(Shape):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]


class StreamOptions(Shape):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None
