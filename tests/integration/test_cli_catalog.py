"""`accessflow catalog apply` refuses a catalog whose patterns RE2 cannot run, saying where."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FINANCE_POLICY = "3d904b06-ff76-4b98-a54c-52445dd7ea48"
TEXT_QUESTION = "7aaa18c9-8e4f-440f-bd5a-3a7ce312cbe6"


def test_catalog_apply_refuses_a_lookahead_naming_policy_and_question(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    document = yaml.safe_load((ROOT / "examples" / "catalog.yaml").read_text(encoding="utf-8"))
    [policy] = [p for p in document["assignmentPolicies"] if p["id"] == FINANCE_POLICY]
    [question] = [q for q in policy["questions"] if q["id"] == TEXT_QUESTION]
    question["regexPattern"] = r"(?=.*\d).{10,}"
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-m", "accessflow.entrypoints.cli", "catalog", "apply", str(path)],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert "the catalog has 1 problem(s)" in done.stderr
    assert f"policy {FINANCE_POLICY}" in done.stderr
    assert f"regexPattern of question {TEXT_QUESTION}" in done.stderr
    assert "RE2 cannot compile it: invalid perl operator: (?=" in done.stderr
    assert "applied" not in done.stdout
