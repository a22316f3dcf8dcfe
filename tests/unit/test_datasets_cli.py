"""`driftloop datasets infer`: a schema a person can edit, from a CSV; errors in one line.
And `driftloop up` respects a user's INGEST_SCHEMA_DIR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from driftloop_contracts import DatasetSchema
from driftloop_sdk.cli import app
from driftloop_sdk.infer import MAX_CATEGORIES, dataset_name
from driftloop_sdk.runner import Stack
from typer.testing import CliRunner

runner = CliRunner()


def csv_file(tmp_path: Path, name: str, lines: list[str]) -> Path:
    (path := tmp_path / name).write_text("\n".join(lines) + "\n")
    return path


def infer(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["datasets", "infer", *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_csv_gives_types_categories_ranges_nullability_and_a_classification_target(
    tmp_path: Path,
) -> None:
    path = csv_file(
        tmp_path,
        "Churn 2024.csv",
        ["age,plan,spend,churned", "30,pro,1.5,no", "45,basic,,yes", "52,pro,3.25,no"],
    )
    code, out, _ = infer(str(path))
    assert code == 0
    schema = json.loads(out)
    DatasetSchema.model_validate(schema)
    assert schema["name"] == "churn_2024"
    age, plan, spend = schema["features"]
    assert age == {"name": "age", "kind": "numeric", "minimum": 30.0, "maximum": 52.0}
    assert plan == {"name": "plan", "kind": "categorical", "categories": ["basic", "pro"]}
    assert spend["nullable"] is True and spend["kind"] == "numeric"
    assert schema["target"] == {
        "name": "churned",
        "kind": "classification",
        "classes": ["no", "yes"],
    }


def test_a_numeric_target_with_many_values_is_regression_and_few_values_are_classes(
    tmp_path: Path,
) -> None:
    rows = [f"{i},{i * 1.5},{i % 3}" for i in range(40)]
    path = csv_file(tmp_path, "t.csv", ["x,price,grade", *rows])
    code, out, _ = infer(str(path), "--target", "price", "--name", "prices")
    assert code == 0 and json.loads(out)["target"] == {"name": "price", "kind": "regression"}
    assert json.loads(out)["name"] == "prices"
    code, out, _ = infer(str(path), "--target", "grade")
    assert json.loads(out)["target"]["classes"] == ["0", "1", "2"]


def test_a_column_with_too_many_strings_lists_no_categories_and_says_so(tmp_path: Path) -> None:
    rows = [f"id{i},{i % 2}" for i in range(MAX_CATEGORIES + 1)]
    code, out, err = infer(str(csv_file(tmp_path, "ids.csv", ["user,label", *rows])))
    assert code == 0
    (user,) = json.loads(out)["features"]
    assert user == {"name": "user", "kind": "categorical"}
    assert f"'user' has {MAX_CATEGORIES + 1} distinct values" in err


@pytest.mark.parametrize(
    ("lines", "args", "message"),
    [
        (["a,label", "1,x", "2,x"], (), "target 'label' has 1 distinct value(s)"),
        (["a,label", "1,x"], ("--target", "b"), "no column 'b' for the target"),
        (["a,label"], (), "has a header but no rows"),
        (["a,label", "1,x", "2,y"], ("--name", "a.b"), "invalid at name"),
    ],
)
def test_errors_are_one_line_saying_what_to_fix(
    tmp_path: Path, lines: list[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = infer(str(csv_file(tmp_path, "d.csv", lines)), *args)
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    code, _, err = infer(str(tmp_path / "nope.csv"))
    assert code == 1 and err.strip() == f"error no file {tmp_path / 'nope.csv'}"


def test_a_dataset_name_comes_from_the_file_name() -> None:
    assert dataset_name(Path("My Data.v2.csv")) == "my_data_v2"
    assert dataset_name(Path("...csv")) == "dataset"


def test_the_stack_respects_a_users_schema_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = Stack(tmp_path / "state", redis_url="redis://127.0.0.1:1/0", sink=None)
    assert stack._env("ingest")["INGEST_SCHEMA_DIR"] == str((tmp_path / "state/schemas").resolve())
    monkeypatch.setenv("INGEST_SCHEMA_DIR", str(tmp_path / "mine"))
    assert stack._env("ingest")["INGEST_SCHEMA_DIR"] == str((tmp_path / "mine").resolve())
