"""The catalog: litellm's seed, the overrides file winning, and every bad input named."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.bundles.loader import parse_spec
from app.deprecations.catalog import LitellmSeed, seed_from_model_map
from app.deprecations.live_catalog import Deprecations
from app.deprecations.overrides import CatalogError
from app.errors import BundleInvalid
from app.providers.model_map import packaged_model_map
from app.registry.compiled import compile_bundle

REPO = Path(__file__).resolve().parents[2]

# A small, fixed stand-in for litellm's map (keys and fields as litellm writes them).
MODEL_MAP = {
    "gpt-4o-2024-11-20": {
        "litellm_provider": "openai",
        "deprecation_date": "2027-01-14",
        "source": "https://openai.example/pricing",
    },
    "gpt-5.4-2026-03-05": {"litellm_provider": "openai"},
    "anthropic.claude-x-v1:0": {
        "litellm_provider": "bedrock_converse",
        "deprecation_date": "2027-02-01",
    },
    "azure/eu/gpt-4o": {"litellm_provider": "azure", "deprecation_date": "2027-04-14"},
    "mistral/mistral-medium": {"litellm_provider": "mistral"},
    "broken-date-model": {"litellm_provider": "openai", "deprecation_date": "soon"},
}


@pytest.fixture
def seed() -> LitellmSeed:
    return seed_from_model_map(MODEL_MAP)


def load(tmp_path: Path, seed: LitellmSeed, text: str) -> Deprecations:
    path = tmp_path / "overrides.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return Deprecations(seed, overrides_file=path)


def test_seed_prefixes_bare_litellm_keys_and_keeps_their_dates(seed: LitellmSeed) -> None:
    catalog = Deprecations(seed).catalog
    entry = catalog.get("openai/gpt-4o-2024-11-20")
    assert entry is not None and entry.shutdown_date == date(2027, 1, 14)
    assert entry.deprecation_date is None and entry.origin == "litellm"
    # litellm's "source" is a pricing page: the provider's retirement page is linked instead.
    assert entry.source == "https://platform.openai.com/docs/deprecations"
    assert catalog.get("gpt-4o-2024-11-20") is entry  # the bare name finds it too
    assert catalog.get("bedrock/anthropic.claude-x-v1:0") is not None  # bedrock_converse
    assert catalog.get("azure/eu/gpt-4o") is not None
    assert catalog.get("openai/gpt-5.4-2026-03-05") is None  # known, no date: no entry
    assert catalog.get("openai/broken-date-model") is None  # litellm's bad data is skipped
    assert [e.model for e in catalog.entries("openai")] == ["openai/gpt-4o-2024-11-20"]


def test_the_packaged_litellm_map_seeds_real_dates() -> None:
    seed = seed_from_model_map(packaged_model_map())
    assert len(seed.entries) > 100  # coverage is partial, but not empty
    assert seed.canonical("gpt-4o-2024-11-20") == "openai/gpt-4o-2024-11-20"
    assert all(e.shutdown_date is not None for e in seed.entries.values())


def test_overrides_win_field_by_field(tmp_path: Path, seed: LitellmSeed) -> None:
    deprecations = load(
        tmp_path,
        seed,
        """
        - model: openai/gpt-4o-2024-11-20
          shutdown_date: 2027-02-01
          deprecation_date: 2026-08-01
          replacement: openai/gpt-5.4-2026-03-05
          source: https://notices.example/gpt-4o
        - model: azure/eu/gpt-4o
          shutdown_date: null
        """,
    )
    entry = deprecations.catalog.get("gpt-4o-2024-11-20")
    assert entry is not None
    assert entry.shutdown_date == date(2027, 2, 1)  # not litellm's 2027-01-14
    assert entry.deprecation_date == date(2026, 8, 1)
    assert entry.replacement == "openai/gpt-5.4-2026-03-05"
    assert entry.source == "https://notices.example/gpt-4o"
    assert entry.origin == "litellm+overrides"
    assert dict(deprecations.headers_for("openai/gpt-4o-2024-11-20"))["Sunset"] == (
        "Mon, 01 Feb 2027 00:00:00 GMT"
    )
    cleared = deprecations.catalog.get("azure/eu/gpt-4o")
    assert cleared is not None and cleared.shutdown_date is None  # null clears litellm's date
    assert deprecations.headers_for("azure/eu/gpt-4o") == ()


def test_unknown_models_need_a_provider_and_a_shutdown_date(
    tmp_path: Path, seed: LitellmSeed
) -> None:
    accepted = load(
        tmp_path,
        seed,
        """
        - {model: vllm/llama-internal, shutdown_date: 2027-05-01}
        - {model: vllm/llama-pointer, moving_pointer: true}
        """,
    )
    assert accepted.catalog.get("vllm/llama-internal") is not None
    assert "vllm/llama-pointer" in accepted.known_pointers
    for entry in ("{model: gpt-4o-2024-11-2O, shutdown_date: 2027-05-01}", "{model: vllm/x}"):
        with pytest.raises(CatalogError) as caught:
            load(tmp_path, seed, f"- {entry}\n")
        assert "entry 1" in str(caught.value) and "does not know this model" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("- model: [unclosed\n", "malformed YAML"),
        ("model: openai/gpt-4o-2024-11-20\n", "expected a YAML list"),
        ("- just-a-string\n", "entry 1: must be a mapping"),
        ("- {shutdown_date: 2027-01-01}\n", "entry 1: 'model' must be"),
        (
            "- {model: openai/gpt-4o-2024-11-20}\n- {model: vllm/a, shutdown: 2027-01-01}\n",
            "entry 2 (vllm/a): unknown keys ['shutdown']",
        ),
        (
            "- {model: openai/gpt-4o-2024-11-20, shutdown_date: 2027-02-30}\n",
            "entry 1 (openai/gpt-4o-2024-11-20): shutdown_date '2027-02-30' is not a date",
        ),
        (
            "- {model: openai/gpt-4o-2024-11-20, shutdown_date: next spring}\n",
            "shutdown_date 'next spring' is not a date (YYYY-MM-DD)",
        ),
        (
            "- {model: openai/gpt-4o-2024-11-20, deprecation_date: 2027-06-01}\n",
            "deprecation_date 2027-06-01 is after shutdown_date 2027-01-14",
        ),
        (
            "- {model: openai/gpt-4o-2024-11-20, source: 'javascript:alert(1)'}\n",
            "must be an http(s) URL",
        ),
        (
            "- {model: openai/gpt-4o-2024-11-20, moving_pointer: yes please}\n",
            "moving_pointer must be true or false",
        ),
        (
            "- {model: openai/gpt-4o-2024-11-20}\n- {model: gpt-4o-2024-11-20}\n",
            "entry 2 (openai/gpt-4o-2024-11-20) repeats entry 1",
        ),
    ],
)
def test_bad_overrides_are_named_with_file_and_entry(
    tmp_path: Path, seed: LitellmSeed, text: str, needle: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        load(tmp_path, seed, text)
    assert str(tmp_path / "overrides.yaml") in str(caught.value)
    assert needle in str(caught.value)


def test_a_missing_overrides_file_fails_loudly(tmp_path: Path, seed: LitellmSeed) -> None:
    with pytest.raises(CatalogError, match="cannot read deprecations file"):
        Deprecations(seed, overrides_file=tmp_path / "nope.yaml")


def test_a_failed_reload_keeps_the_last_good_catalog(tmp_path: Path, seed: LitellmSeed) -> None:
    deprecations = load(tmp_path, seed, "- {model: vllm/a, shutdown_date: 2027-05-01}\n")
    path = tmp_path / "overrides.yaml"
    assert deprecations.reload_if_changed() is False  # unchanged: nothing to do
    path.write_text("- {model: vllm/a, shutdown_date: someday}\n", encoding="utf-8")
    assert deprecations.reload_if_changed() is False
    assert deprecations.last_error is not None and "someday" in deprecations.last_error
    entry = deprecations.catalog.get("vllm/a")
    assert entry is not None and entry.shutdown_date == date(2027, 5, 1)
    path.write_text("- {model: vllm/a, shutdown_date: 2027-06-01, note: fixed}\n", encoding="utf-8")
    assert deprecations.reload_if_changed() is True
    fixed = deprecations.catalog.get("vllm/a")
    assert fixed is not None and fixed.shutdown_date == date(2027, 6, 1)
    assert deprecations.last_error is None


def test_catalog_moving_pointers_are_floating(tmp_path: Path, seed: LitellmSeed) -> None:
    deprecations = load(tmp_path, seed, "- {model: mistral/mistral-medium, moving_pointer: true}\n")
    spec = {"name": "m", "model": "mistral/mistral-medium"}
    # Dateless is not floating by itself ...
    assert compile_bundle(parse_spec(spec)).floating is None
    # ... but the catalog says this one moves.
    with pytest.raises(BundleInvalid, match="moving pointer"):
        compile_bundle(parse_spec(spec), known_pointers=deprecations.known_pointers)
    allowed = compile_bundle(
        parse_spec({**spec, "allow_floating": True}), known_pointers=deprecations.known_pointers
    )
    assert allowed.floating is not None


def test_the_repository_example_file_loads() -> None:
    deprecations = Deprecations(
        seed_from_model_map(packaged_model_map()),
        overrides_file=REPO / "deprecations.example.yaml",
        clock=lambda: datetime(2026, 11, 22, tzinfo=UTC),
    )
    legacy = deprecations.catalog.get("fake/echo-legacy")
    assert legacy is not None and legacy.replacement == "fake/echo"
    assert "mistral/mistral-medium" in deprecations.known_pointers
    gpt4o = deprecations.catalog.get("openai/gpt-4o-2024-11-20")
    assert gpt4o is not None and gpt4o.replacement and gpt4o.shutdown_date
