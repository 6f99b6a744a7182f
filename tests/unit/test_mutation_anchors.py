"""`make mutation`'s mutants still apply (scripts/mutation.py): each anchor is in its file exactly once and each
catcher names a test that exists. A change that moves an anchor fails here, in `make test`, instead of only when
someone next runs `make mutation`."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _mutation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("aar_mutation", REPO / "scripts" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while it is made
    spec.loader.exec_module(module)
    return module


MUTANTS = _mutation().MUTANTS


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_each_mutant_applies_once_and_its_catchers_exist(mutant: Any) -> None:
    anchors = (REPO / mutant.path).read_text().count(mutant.old)
    assert anchors == 1, f"the anchor is not once in {mutant.path}: update the mutant"
    assert mutant.old != mutant.new
    for catcher in mutant.catchers:
        file, _, name = catcher.partition("::")
        function = re.sub(r"\[.*\]$", "", name)
        assert re.search(rf"^def {re.escape(function)}\(", (REPO / file).read_text(), re.MULTILINE), catcher
