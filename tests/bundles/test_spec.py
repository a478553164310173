"""Bundle loading, digests, templates, variables and pinning."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundles.loader import load_bundle_file, parse_spec
from app.errors import BadRequestError, BundleInvalid, InvalidVariables, MissingVariables
from app.registry.compiled import compile_bundle

BUNDLE = """\
name: support-chat
model: fake/echo
params: {temperature: 0.2, max_tokens: 512}
prompt:
  system: system.jinja
variables_schema:
  type: object
  properties: {customer_name: {type: string}, tier: {type: string}}
  required: [customer_name]
metadata: {owner: support-team}
"""

REORDERED = """\
# the same bundle, keys reordered, other quoting, comments
metadata:
  owner: "support-team"
variables_schema:
  required: ["customer_name"]
  properties:
    tier: {type: "string"}
    customer_name: {type: 'string'}
  type: object
prompt: {system: "system.jinja"}   # a file beside this one
params: {max_tokens: 512, temperature: 0.2}
model: 'fake/echo'
name: "support-chat"
"""

SYSTEM = "You help {{ customer_name }}{% if tier %} ({{ tier }}){% endif %}.\n"


def write_bundle(folder: Path, yaml_text: str = BUNDLE, system: str = SYSTEM) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bundle.yaml").write_text(yaml_text)
    (folder / "system.jinja").write_text(system)
    return folder / "bundle.yaml"


def test_template_is_inlined(tmp_path: Path) -> None:
    spec = load_bundle_file(write_bundle(tmp_path))
    assert spec.prompt.system == SYSTEM


def test_digest_ignores_key_order_quoting_and_comments(tmp_path: Path) -> None:
    a = load_bundle_file(write_bundle(tmp_path / "a"))
    b = load_bundle_file(write_bundle(tmp_path / "b", REORDERED))
    assert a.digest == b.digest
    assert a.digest.startswith("sha256:") and len(a.digest) == 71


def test_one_template_byte_changes_the_digest(tmp_path: Path) -> None:
    a = load_bundle_file(write_bundle(tmp_path / "a"))
    b = load_bundle_file(write_bundle(tmp_path / "b", system=SYSTEM.replace("help", "helP")))
    assert a.digest != b.digest


def test_a_directory_path_loads_its_bundle_yaml(tmp_path: Path) -> None:
    write_bundle(tmp_path)
    assert load_bundle_file(tmp_path).name == "support-chat"


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("name: x\nmodel: fake/echo\nbogus: 1\n", "bogus: unknown field"),
        ("name: x\nmodel: [unclosed\n", "malformed YAML"),
        ("- a list\n", "must be a mapping"),
        ("name: x\n", "model: Field required"),
        ("name: Bad Name\nmodel: fake/echo\n", "name:"),
        ("name: x\nmodel: fake/echo\nparams: {api_key: sk-1}\n", "credentials"),
        ("name: x\nmodel: fake/echo\nclient_params: [temprature]\n", "temprature"),
        ("name: x\nmodel: fake/echo\nfallbacks: [other]\n", "not a bundle reference"),
        ("name: x\nmodel: fake/echo\nprompt: {system: missing.jinja}\n", "missing.jinja"),
        ("name: x\nmodel: fake/echo\nprompt: {system: ../../etc/x.txt}\n", "outside the bundle"),
    ],
)
def test_bad_bundle_files_name_the_problem(tmp_path: Path, yaml_text: str, needle: str) -> None:
    path = tmp_path / "bundle.yaml"
    path.write_text(yaml_text)
    with pytest.raises(BundleInvalid) as err:
        load_bundle_file(path)
    assert needle in err.value.message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BundleInvalid, match="no such file"):
        load_bundle_file(tmp_path / "nope.yaml")


def test_template_that_does_not_parse() -> None:
    spec = parse_spec({"name": "x", "model": "fake/echo", "prompt": {"system": "Hi {{ name "}})
    with pytest.raises(BundleInvalid, match=r"prompt.system does not parse"):
        compile_bundle(spec)


def test_undeclared_variable_is_refused() -> None:
    spec = parse_spec(
        {
            "name": "x",
            "model": "fake/echo",
            "prompt": {"system": "{{ customer_name }} {{ order_id }}"},
            "variables_schema": {"type": "object", "properties": {"customer_name": {}}},
        }
    )
    with pytest.raises(BundleInvalid, match="does not declare: order_id"):
        compile_bundle(spec)


def test_invalid_json_schema_is_refused() -> None:
    spec = parse_spec(
        {"name": "x", "model": "fake/echo", "variables_schema": {"type": "not-a-type"}}
    )
    with pytest.raises(BundleInvalid, match="variables_schema is not a valid JSON Schema"):
        compile_bundle(spec)


@pytest.mark.parametrize(
    "model", ["openai/gpt-4o", "openai/gpt-4o-latest", "anthropic/claude-3-5-sonnet-latest"]
)
def test_floating_models_are_refused_unless_allowed(model: str) -> None:
    with pytest.raises(BundleInvalid, match="floating"):
        compile_bundle(parse_spec({"name": "x", "model": model}))
    allowed = compile_bundle(parse_spec({"name": "x", "model": model, "allow_floating": True}))
    assert allowed.floating


@pytest.mark.parametrize(
    "model", ["openai/gpt-4o-2024-11-20", "anthropic/claude-3-5-sonnet-20241022", "mistral/x"]
)
def test_pinned_models_pass(model: str) -> None:
    assert compile_bundle(parse_spec({"name": "x", "model": model})).floating is None


def test_render_names_every_missing_variable() -> None:
    compiled = compile_bundle(
        parse_spec(
            {
                "name": "x",
                "model": "fake/echo",
                "prompt": {
                    "system": "{{ a }}",
                    "messages": [{"role": "user", "content": "{{ b }}"}],
                },
            }
        )
    )
    with pytest.raises(MissingVariables) as err:
        compiled.render({})
    assert err.value.names == ["a", "b"]
    assert "a, b" in err.value.message
    assert compiled.render({"a": "1", "b": "2"}) == [
        {"role": "system", "content": "1"},
        {"role": "user", "content": "2"},
    ]


def test_variables_are_checked_against_the_schema(tmp_path: Path) -> None:
    compiled = compile_bundle(load_bundle_file(write_bundle(tmp_path)))
    with pytest.raises(InvalidVariables) as err:
        compiled.render({"customer_name": 5})
    assert err.value.param == "variables.customer_name"
    assert compiled.render({"customer_name": "Ada", "tier": "gold"})[0]["content"] == (
        "You help Ada (gold)."
    )
    assert compiled.render({"customer_name": "Ada"})[0]["content"] == "You help Ada."


def test_sandbox_blocks_unsafe_attribute_access() -> None:
    compiled = compile_bundle(
        parse_spec({"name": "x", "model": "fake/echo", "prompt": {"system": "{{ v.__class__ }}"}})
    )
    with pytest.raises(BadRequestError, match=r"unsafe"):
        compiled.render({"v": "text"})
