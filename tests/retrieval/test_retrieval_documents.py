"""Documents are part of the bundle: inlined by the loader, covered by the digest, diffed."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import yaml

from app.bundles.diff import diff_bundles
from app.bundles.loader import load_bundle_file
from app.errors import BundleInvalid
from tests.conftest import fake_spec, push

EXAMPLE = Path("prompts/help-center")


def write_bundle(folder: Path, documents: str = "docs/") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = fake_spec(retrieval={"kind": "bm25", "documents": documents, "top_k": 2})
    (folder / "bundle.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return folder


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    folder = write_bundle(tmp_path / "kb")
    (folder / "docs" / "faq").mkdir(parents=True)
    (folder / "docs" / "returns.md").write_text("Returns within 30 days.\n", encoding="utf-8")
    (folder / "docs" / "faq" / "hours.txt").write_text("Open 9 to 5.\n", encoding="utf-8")
    (folder / "docs" / "logo.png").write_bytes(b"\x89PNG not a document")
    return folder


def test_the_loader_inlines_the_folder_sorted_and_relative(bundle_dir: Path) -> None:
    spec = load_bundle_file(bundle_dir)
    assert spec.canonical_dict()["retrieval"]["documents"] == [
        {"source": "docs/faq/hours.txt", "text": "Open 9 to 5.\n"},
        {"source": "docs/returns.md", "text": "Returns within 30 days.\n"},
    ]


def test_editing_adding_or_renaming_a_document_changes_the_digest(bundle_dir: Path) -> None:
    first = load_bundle_file(bundle_dir).digest
    assert load_bundle_file(bundle_dir).digest == first  # stable
    returns = bundle_dir / "docs" / "returns.md"
    returns.write_text("Returns within 14 days.\n", encoding="utf-8")
    edited = load_bundle_file(bundle_dir).digest
    assert edited != first
    (bundle_dir / "docs" / "new.md").write_text("New.\n", encoding="utf-8")
    added = load_bundle_file(bundle_dir).digest
    assert added not in (first, edited)
    returns.rename(bundle_dir / "docs" / "refunds.md")
    assert load_bundle_file(bundle_dir).digest not in (first, edited, added)


def test_editing_the_shipped_example_makes_a_new_version(tmp_path: Path) -> None:
    copy = shutil.copytree(EXAMPLE, tmp_path / "help-center")
    before = load_bundle_file(copy).digest
    assert before == load_bundle_file(EXAMPLE).digest
    with (copy / "docs" / "shipping.md").open("a", encoding="utf-8") as handle:
        handle.write("We now ship to Norway.\n")
    assert load_bundle_file(copy).digest != before


@pytest.mark.parametrize(
    ("documents", "problem"),
    [
        ("missing/", "retrieval.documents names 'missing/', which is not a folder"),
        ("../", "is outside the bundle folder"),
        ("empty/", "folder 'empty/' has no documents"),
    ],
)
def test_bad_document_folders_are_refused(tmp_path: Path, documents: str, problem: str) -> None:
    folder = write_bundle(tmp_path / "kb", documents)
    (folder / "empty").mkdir()
    with pytest.raises(BundleInvalid, match=problem):
        load_bundle_file(folder)


def test_a_single_file_is_a_collection_of_one(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "kb", "faq.md")
    (folder / "faq.md").write_text("Q and A", encoding="utf-8")
    documents = load_bundle_file(folder).canonical_dict()["retrieval"]["documents"]
    assert documents == [{"source": "faq.md", "text": "Q and A"}]


async def test_the_registry_stores_a_self_contained_bundle(admin: httpx.AsyncClient) -> None:
    spec = load_bundle_file(EXAMPLE)
    registered = await push(admin, spec.canonical_dict())
    assert registered["digest"] == spec.digest
    stored = (await admin.get("/admin/bundles/help-center/1")).json()["spec"]
    sources = [d["source"] for d in stored["retrieval"]["documents"]]
    assert sources == ["docs/payment.md", "docs/returns.md", "docs/shipping.md"]
    assert "30 days" in stored["retrieval"]["documents"][1]["text"]


async def test_a_folder_path_cannot_be_pushed_to_the_api(admin: httpx.AsyncClient) -> None:
    spec = fake_spec(retrieval={"kind": "bm25", "documents": "docs/"})
    answer = await admin.post("/admin/bundles", json=spec)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bundle_invalid"
    assert "the bundle loader inlines a folder" in answer.json()["error"]["message"]


def test_a_diff_shows_each_changed_document_as_text(bundle_dir: Path) -> None:
    old = load_bundle_file(bundle_dir).canonical_dict()
    (bundle_dir / "docs" / "returns.md").write_text("Returns within 14 days.\n", encoding="utf-8")
    new = load_bundle_file(bundle_dir).canonical_dict()
    diff = diff_bundles(old, new)
    assert diff.changes == []  # documents are not dumped as one opaque field change
    (template,) = diff.templates
    assert template.label == "retrieval.documents[docs/returns.md]"
    assert "-Returns within 30 days." in template.unified
    assert "+Returns within 14 days." in template.unified
