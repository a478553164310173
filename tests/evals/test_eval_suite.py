"""Suite files: loading, JSONL cases with line numbers, the digest, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.errors import SuiteInvalid
from app.evals.suite import load_suite
from tests.evals.eval_helpers import write_suite


def test_inline_suite_loads_with_defaults(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    assert suite.name == "smoke" and [c.id for c in suite.spec.cases] == ["order", "again"]
    assert suite.spec.repeats == 1 and suite.spec.required_passes == 1
    assert suite.spec.thresholds.pass_rate == 1.0 and suite.spec.error_budget == 0
    assert suite.digest.startswith("sha256:") and len(suite.digest) == 71


def test_jsonl_cases_and_the_digest_covers_them(tmp_path: Path) -> None:
    (tmp_path / "cases.jsonl").write_text(
        '{"id": "a", "messages": [{"role": "user", "content": "order 1234"}], "tags": ["x"]}\n'
        "\n"
        '{"id": "b", "messages": [{"role": "user", "content": "1234?"}]}\n',
        encoding="utf-8",
    )
    path = write_suite(tmp_path, cases="cases.jsonl")
    first = load_suite(path)
    assert [c.id for c in first.spec.cases] == ["a", "b"] and first.spec.cases[0].tags == ["x"]
    assert load_suite(path).digest == first.digest  # stable
    with (tmp_path / "cases.jsonl").open("a", encoding="utf-8") as stream:
        stream.write('{"id": "c", "messages": [{"role": "user", "content": "1234"}]}\n')
    assert load_suite(path).digest != first.digest  # a case changes it
    data = yaml.safe_load(path.read_text())
    data["scorers"] = [{"type": "icontains", "value": "1234"}]
    path.write_text(yaml.safe_dump(data))
    assert load_suite(path).digest not in (first.digest,)  # a scorer changes it


def test_yaml_formatting_does_not_change_the_digest(tmp_path: Path) -> None:
    one = load_suite(write_suite(tmp_path / "a"))
    path = write_suite(tmp_path / "b")
    data = yaml.safe_load(path.read_text())
    path.write_text("# a comment\n" + yaml.safe_dump(dict(reversed(list(data.items())))))
    assert load_suite(path).digest == one.digest


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "cases.jsonl:2: not valid JSON"),
        ('{"id": "b"}', "cases.jsonl:2: messages: Field required"),
        (
            '{"id": "b", "messages": [{"role": "robot", "content": "x"}]}',
            "cases.jsonl:2: messages.0.role",
        ),
    ],
)
def test_malformed_case_lines_name_file_and_line(tmp_path: Path, line: str, needle: str) -> None:
    good = '{"id": "a", "messages": [{"role": "user", "content": "1234"}]}'
    (tmp_path / "cases.jsonl").write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(SuiteInvalid) as caught:
        load_suite(write_suite(tmp_path, cases="cases.jsonl"))
    assert needle in caught.value.message


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"scorers": [{"type": "bleu"}]}, "scorers[0]: unknown scorer 'bleu'"),
        ({"repeats": 2, "pass_k": 3}, "pass_k (3) cannot exceed repeats (2)"),
        ({"thresholds": {"scorers": {"judge": 0.5}}}, "thresholds.scorers names scorers no case"),
        ({"scorers": []}, "cases with no scorer"),
        ({"cases": "missing.jsonl"}, "cases file 'missing.jsonl' does not exist"),
        ({"cases": "../outside.jsonl"}, "outside the suite folder"),
        ({"name": "Bad Name"}, "name: String should match pattern"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
def test_bad_suites_are_refused(tmp_path: Path, overrides: dict[str, object], needle: str) -> None:
    with pytest.raises(SuiteInvalid) as caught:
        load_suite(write_suite(tmp_path, **overrides))
    assert needle in caught.value.message and ".yaml: " in caught.value.message


def test_duplicate_case_ids_and_bad_expectations(tmp_path: Path) -> None:
    case = {"id": "x", "messages": [{"role": "user", "content": "1"}]}
    with pytest.raises(SuiteInvalid, match="used twice"):
        load_suite(write_suite(tmp_path, cases=[case, case]))
    bad = {**case, "expectations": [{"type": "regex"}]}
    with pytest.raises(SuiteInvalid, match=r"case 'x' expectations\[0\]: regex: pattern"):
        load_suite(write_suite(tmp_path, cases=[bad]))


def test_missing_or_malformed_suite_file(tmp_path: Path) -> None:
    with pytest.raises(SuiteInvalid, match="no such suite file"):
        load_suite(tmp_path / "nope.yaml")
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(SuiteInvalid, match="malformed YAML"):
        load_suite(tmp_path / "broken.yaml")


def test_the_example_suites_load() -> None:
    examples = sorted(Path("evals").glob("*.yaml"))
    assert examples, "evals/ should hold example suites"
    for path in examples:
        assert load_suite(path).name == path.stem
