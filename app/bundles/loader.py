"""Load ``prompts/<name>/bundle.yaml`` into a ``BundleSpec`` with templates inlined.

A prompt value that names a file (``system.jinja``) is read from beside the
YAML; anything else is inline template text. ``retrieval.documents`` naming a
folder (or one file) becomes ``[{source, text}]``, so the digest covers every
document and the registry stores a self-contained bundle. Paths may not leave
the bundle's folder, so a bundle is self-contained and safe to review.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.bundles.spec import BundleSpec
from app.errors import BundleInvalid

TEMPLATE_SUFFIXES = (".jinja", ".jinja2", ".j2", ".txt", ".md")
SCHEMA_SUFFIXES = (".json", ".yaml", ".yml")
DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt", ".rst")


def parse_spec(data: Any, *, source: str = "bundle") -> BundleSpec:
    """Validate a spec mapping; every problem is named in one error."""
    if not isinstance(data, dict):
        raise BundleInvalid(f"{source}: a bundle must be a mapping, got {type(data).__name__}")
    try:
        return BundleSpec.model_validate(data)
    except ValidationError as exc:
        raise BundleInvalid(f"{source}: {describe_validation_error(exc)}") from exc


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def load_bundle_file(path: str | Path) -> BundleSpec:
    path = Path(path)
    if path.is_dir():
        path = path / "bundle.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BundleInvalid(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleInvalid(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BundleInvalid(f"{path}: malformed YAML: {exc}") from exc
    if isinstance(data, dict):
        data = _inline_files(data, path.parent.resolve(), str(path))
    return parse_spec(data, source=str(path))


def _inline_files(data: dict[str, Any], base: Path, source: str) -> dict[str, Any]:
    data = dict(data)
    prompt = data.get("prompt")
    if isinstance(prompt, str):
        prompt = {"system": prompt}
    if isinstance(prompt, dict):
        prompt = dict(prompt)
        if isinstance(prompt.get("system"), str):
            prompt["system"] = _maybe_file(prompt["system"], base, source, "prompt.system")
        if isinstance(prompt.get("messages"), list):
            messages = []
            for i, message in enumerate(prompt["messages"]):
                if isinstance(message, dict) and isinstance(message.get("content"), str):
                    message = {
                        **message,
                        "content": _maybe_file(
                            message["content"], base, source, f"prompt.messages[{i}].content"
                        ),
                    }
                messages.append(message)
            prompt["messages"] = messages
        data["prompt"] = prompt
    retrieval = data.get("retrieval")
    if isinstance(retrieval, dict) and isinstance(retrieval.get("documents"), str):
        documents = _documents(retrieval["documents"], base, source)
        data["retrieval"] = {**retrieval, "documents": documents}
    for key in ("variables_schema", "output_schema"):
        value = data.get(key)
        if isinstance(value, str) and value.endswith(SCHEMA_SUFFIXES):
            target = _resolve(value, base, source, key)
            try:
                data[key] = yaml.safe_load(target.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise BundleInvalid(f"{source}: {key} file {value} is malformed: {exc}") from exc
    return data


def _documents(relative: str, base: Path, source: str) -> list[dict[str, str]]:
    """Every document file under a folder (sorted, so the digest is stable), or one file."""
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise BundleInvalid(
            f"{source}: retrieval.documents {relative!r} is outside the bundle folder"
        )
    if target.is_file():
        files = [target]
    elif target.is_dir():
        files = sorted(
            p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES
        )
        if not files:
            raise BundleInvalid(
                f"{source}: retrieval.documents folder {relative!r} has no documents "
                f"({', '.join('*' + s for s in DOCUMENT_SUFFIXES)})"
            )
    else:
        raise BundleInvalid(
            f"{source}: retrieval.documents names {relative!r}, which is not a folder "
            "beside the bundle"
        )
    documents = []
    for path in files:
        if not path.resolve().is_relative_to(base):
            raise BundleInvalid(f"{source}: document {path.name} links outside the bundle folder")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleInvalid(f"{source}: cannot read document {path.name}: {exc}") from exc
        documents.append({"source": path.relative_to(base).as_posix(), "text": text})
    return documents


def _maybe_file(value: str, base: Path, source: str, field: str) -> str:
    if "\n" in value or not value.strip().endswith(TEMPLATE_SUFFIXES):
        return value
    return _resolve(value.strip(), base, source, field).read_text(encoding="utf-8")


def _resolve(relative: str, base: Path, source: str, field: str) -> Path:
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise BundleInvalid(f"{source}: {field} file {relative!r} is outside the bundle folder")
    if not target.is_file():
        raise BundleInvalid(f"{source}: {field} names {relative!r}, which is not a file beside it")
    return target
