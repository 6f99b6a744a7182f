"""The fenced code blocks of the README files, and which test runs each (tests/test_readme.py checks the map).

A block is identified by what it holds, not by its position, so moving text around does not break the map while a
new kind of block (or a changed one no test recognises) does. `RUNNERS` names, per kind, the test that runs the
block as written (after the substitutions that test names) and where that cannot be done, why not.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "examples/basic/README.md", "examples/complete/README.md")
_FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<text>.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    document: str
    line: int  # of the opening fence, 1-based
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"


def blocks(document: str) -> list[Block]:
    source = (REPO_ROOT / document).read_text()
    return [
        Block(document, source.count("\n", 0, m.start()) + 1, m["lang"], m["text"]) for m in _FENCE.finditer(source)
    ]


def all_blocks() -> list[Block]:
    return [block for document in DOCUMENTS for block in blocks(document)]


def kind(block: Block) -> str | None:
    """What the block is, or None when no test knows it."""
    text = block.text
    if block.lang == "hcl" and re.search(r'^module "access_analyzer_remediation" \{$', text, re.MULTILINE):
        return "module-block"
    if block.lang == "json" and text.startswith('{"Sid":"AccessAnalyzerDeny'):
        return "remediation-statement"
    if block.lang == "sh" and text.startswith("make demo") and "make test" in text:
        return "make-targets"
    if block.lang == "sh" and "aa-remediate " in text:
        return "cli-reference"
    if block.lang == "sh" and block.document.startswith("examples/") and "terraform apply -var" in text:
        return "example-apply"
    return None


RUNNERS = {
    "module-block": "tests/terraform/test_readme.py::test_module_blocks_plan (terraform test, mocked AWS)",
    "remediation-statement": "tests/unit/test_readme.py::test_the_remediation_example_is_what_plan_adds",
    "make-targets": (
        "not run by a test: `make test` is the suite itself, and `make demo` applies the module a second time (the"
        " suite applies once); tests/integration/test_demo_scenario.py runs the demo's scenario on the suite's"
        " deployment, and .ci/run runs `make test` on a clean clone"
    ),
    "cli-reference": (
        "tests/integration/test_readme.py::test_every_cli_line_runs (against the sandbox deployment) and"
        " tests/unit/test_readme.py (the offline lines: plan, --version)"
    ),
    "example-apply": "tests/terraform/test_readme.py::test_example_commands_plan (terraform test, mocked AWS)",
}


@dataclass(frozen=True)
class CliLine:
    argv: tuple[str, ...]  # after `aa-remediate`, comment stripped
    text: str


def cli_lines(block: Block) -> list[CliLine]:
    """The `aa-remediate ...` lines of a block, split as a shell would (comments dropped)."""
    lines = []
    for raw in block.text.splitlines():
        words = shlex.split(raw, comments=True)
        if words and words[0] == "aa-remediate":
            lines.append(CliLine(tuple(words[1:]), raw))
    return lines


def cli_reference() -> Block:
    [block] = [b for b in blocks("README.md") if kind(b) == "cli-reference"]
    return block
