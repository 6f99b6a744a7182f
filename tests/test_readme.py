"""Every fenced code block of the READMEs is run by a test, or says why it cannot be (tests/readme_blocks.py)."""

from __future__ import annotations

import re

from tests.readme_blocks import REPO_ROOT, RUNNERS, all_blocks, kind


def test_every_block_is_known() -> None:
    unknown = [block.where for block in all_blocks() if kind(block) is None]
    assert not unknown, f"code blocks no test runs (add them to tests/readme_blocks.py): {unknown}"
    assert {kind(block) for block in all_blocks()} == set(RUNNERS), "a kind in RUNNERS matches no block any more"


def test_every_runner_exists() -> None:
    for runner in RUNNERS.values():
        for path, name in re.findall(r"(tests/[\w/]+\.py)::(\w+)", runner):
            assert re.search(rf"^def {name}\(", (REPO_ROOT / path).read_text(), re.MULTILINE), f"{path}::{name}"
