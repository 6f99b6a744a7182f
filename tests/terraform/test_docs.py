"""README Terraform tables (scripts/tf_docs.py) are in sync with the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.terraform.tfrunner import MODULE_DIRS, REPO_ROOT, copy_module

TF_DOCS = REPO_ROOT / "scripts" / "tf_docs.py"


def tf_docs(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TF_DOCS), *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("relative", MODULE_DIRS)
def test_readme_in_sync(relative: str) -> None:
    proc = tf_docs(relative, "--check")
    assert proc.returncode == 0, f"{proc.stderr}\nrun: .venv/bin/python scripts/tf_docs.py {relative} --write"


def test_check_detects_a_stale_readme(tmp_path: Path) -> None:
    module = copy_module(tmp_path)
    variables = module / "variables.tf"
    variables.write_text(variables.read_text().replace("Tags added to every taggable resource.", "Changed tags."))
    assert tf_docs(".", "--check", cwd=module).returncode == 1
    assert tf_docs(".", "--write", cwd=module).returncode == 0
    assert "| Changed tags. |" in (module / "README.md").read_text()
    assert tf_docs(".", "--check", cwd=module).returncode == 0


def test_rendering() -> None:
    block = tf_docs(".").stdout
    assert block.startswith("<!-- BEGIN_TF_DOCS -->\n## Requirements\n")
    assert '| <a name="requirement_aws"></a> [aws](#requirement\\_aws) | >= 5.100, < 7.0 |' in block
    assert '| <a name="input_notification_email"></a> [notification\\_email](#input\\_notification\\_email) |' in block
    assert "<pre>object({<br/>    batch_size" in block  # multi-line types keep their source layout
    registry = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs"
    assert f"| [aws_lambda_function.this]({registry}/resources/lambda_function) | resource |" in block
    assert f"| [aws_region.current]({registry}/data-sources/region) | data source |" in block
