"""The deployment checks' tools (Helm, kubeconform, promtool and the schemas) as
``deploy/tools/install`` built them; ``make test`` runs the installer first."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import CHART, ROOT

INSTALLER = ROOT / "deploy" / "tools" / "install"


@dataclass(frozen=True)
class Tools:
    helm: Path
    kubeconform: Path
    promtool: Path
    schemas: Path

    def run(
        self, tool: Path, *args: str | Path, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(tool), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            input=stdin,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{tool.name} {args} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def template(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        # A fixed release name and namespace, so object names are what the tests expect.
        return self.run(
            self.helm, "template", "rel", CHART, "--namespace", "accessflow", *args, check=check
        )

    def render(self, *args: str | Path) -> list[dict[str, Any]]:
        documents = yaml.safe_load_all(self.template(*args).stdout)
        return [document for document in documents if document]


@pytest.fixture(scope="session")
def tools() -> Tools:
    where = subprocess.run([str(INSTALLER), "--where"], capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr  # says to run deploy/tools/install
    paths = dict(line.split("=", 1) for line in where.stdout.split())
    return Tools(*(Path(paths[name]) for name in ("helm", "kubeconform", "promtool", "schemas")))
