#!/usr/bin/env python3
"""Render a Terraform module's reference the way `terraform-docs markdown table` does (it is not installable here).

    tf_docs.py [DIR]                  print the block for the module in DIR (default: .)
    tf_docs.py [DIR] --write [FILE]   rewrite the block between the markers in FILE (default: DIR/README.md)
    tf_docs.py [DIR] --check [FILE]   exit 1 when the block in FILE is missing or stale

Sections: Requirements, Providers, Modules, Resources, Inputs, Outputs (parsed with python-hcl2; variable types
are copied from the source text, as terraform-docs does).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True)
REGISTRY = "https://registry.terraform.io/providers/hashicorp/{provider}/latest/docs/{kind}/{name}"


def load(module: Path) -> tuple[dict[str, list[Any]], str]:
    """All blocks of the module's *.tf files merged by block type, and the concatenated source."""
    merged: dict[str, list[Any]] = {}
    texts = []
    for path in sorted(module.glob("*.tf")):
        text = path.read_text()
        texts.append(text)
        for key, blocks in hcl2.loads(text, serialization_options=OPTIONS).items():
            merged.setdefault(key, []).extend(blocks)
    return merged, "\n".join(texts)


def raw_types(source: str) -> dict[str, str]:
    """Variable name -> its `type = ...` expression exactly as written."""
    types: dict[str, str] = {}
    for match in re.finditer(r'^variable\s+"([^"]+)"\s*\{', source, re.M):
        depth, i, line_start = 1, match.end(), True
        while depth and i < len(source):
            if depth == 1 and line_start and (found := re.match(r"[ \t]*type\s*=\s*", source[i:])):
                types[match.group(1)] = _expression(source, i + found.end())
            char = source[i]
            depth += {"{": 1, "}": -1}.get(char, 0)
            line_start = char == "\n"
            i += 1
    return types


def _expression(source: str, start: int) -> str:
    depth, i = 0, start
    while i < len(source) and not (source[i] == "\n" and depth == 0):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(source[i], 0)
        i += 1
    return source[start:i].rstrip()


def doc_url(spec: str, kind: str) -> str:
    """Registry page of `aws_x.name`: .../providers/hashicorp/aws/latest/docs/<kind>/x."""
    provider, name = spec.split(".", maxsplit=1)[0].split("_", 1)
    return REGISTRY.format(provider=provider, kind=kind, name=name)


def esc(name: str) -> str:
    return name.replace("_", "\\_")


def anchor(kind: str, name: str) -> str:
    return f'<a name="{kind}_{name}"></a> [{esc(name)}](#{kind}\\_{esc(name)})'


def cell(text: str) -> str:
    """A table cell: multi-line text becomes <pre> with <br/>, like terraform-docs."""
    if "\n" in text:
        return "<pre>" + text.replace("|", "\\|").replace("\n", "<br/>") + "</pre>"
    return f"`{text}`"


def description(block: dict[str, Any]) -> str:
    text = str(block.get("description", "")).strip()
    return text.replace("|", "\\|").replace("\n", "<br/>") if text else "n/a"


def table(header: str, rows: list[str], empty: str) -> str:
    return "\n".join([header, *rows]) if rows else empty


def render(module: Path) -> str:
    blocks, source = load(module)
    settings: dict[str, Any] = {}
    for terraform in blocks.get("terraform", []):
        settings.setdefault("required_version", terraform.get("required_version"))
        for providers in terraform.get("required_providers", []):
            settings.setdefault("providers", {}).update({k: v for k, v in providers.items() if k != "__is_block__"})
    required: dict[str, Any] = settings.get("providers", {})

    requirements = [f"| {anchor('requirement', 'terraform')} | {settings['required_version']} |"] * bool(
        settings.get("required_version")
    )
    requirements += [f"| {anchor('requirement', n)} | {p.get('version', 'n/a')} |" for n, p in sorted(required.items())]

    resources: list[tuple[str, str, str]] = []
    for mode, kind, label in (("resource", "resources", "resource"), ("data", "data-sources", "data source")):
        for block in blocks.get(mode, []):
            for rtype, named in block.items():
                resources += [(f"{rtype}.{name}", kind, label) for name in named if name != "__is_block__"]
    used = {spec.split("_", 1)[0] for spec, _, _ in resources}
    used |= {name for block in blocks.get("provider", []) for name in block}
    providers = [f"| {anchor('provider', n)} | {required.get(n, {}).get('version', 'n/a')} |" for n in sorted(used)]
    resource_rows = [f"| [{spec}]({doc_url(spec, kind)}) | {label} |" for spec, kind, label in sorted(resources)]
    modules = [
        f"| {anchor('module', name)} | {m.get('source')} | {m.get('version', 'n/a')} |"
        for block in blocks.get("module", [])
        for name, m in sorted(block.items())
    ]

    types = raw_types(source)
    inputs = []
    for name, var in sorted((n, v) for block in blocks.get("variable", []) for n, v in block.items()):
        default = "n/a" if "default" not in var else cell(json.dumps(var["default"], indent=2))
        required_cell = "no" if "default" in var else "yes"
        type_cell = cell(types.get(name, "any"))
        inputs.append(f"| {anchor('input', name)} | {description(var)} | {type_cell} | {default} | {required_cell} |")
    outputs = [
        f"| {anchor('output', name)} | {description(out)} |"
        for name, out in sorted((n, o) for block in blocks.get("output", []) for n, o in block.items())
    ]

    sections = [
        ("Requirements", table("| Name | Version |\n|------|---------|", requirements, "No requirements.")),
        ("Providers", table("| Name | Version |\n|------|---------|", providers, "No providers.")),
        ("Modules", table("| Name | Source | Version |\n|------|--------|---------|", modules, "No modules.")),
        ("Resources", table("| Name | Type |\n|------|------|", resource_rows, "No resources.")),
        (
            "Inputs",
            table(
                "| Name | Description | Type | Default | Required |\n"
                "|------|-------------|------|---------|:--------:|",
                inputs,
                "No inputs.",
            ),
        ),
        ("Outputs", table("| Name | Description |\n|------|-------------|", outputs, "No outputs.")),
    ]
    body = "\n\n".join(f"## {title}\n\n{content}" for title, content in sections)
    return f"{BEGIN}\n{body}\n{END}"


def replace_block(text: str, block: str) -> str | None:
    """text with its marker block replaced, or None when the markers are missing."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[:start] + block + text[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", nargs="?", type=Path, default=Path("."))
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", nargs="?", type=Path, const=True, default=None, metavar="FILE")
    group.add_argument("--check", nargs="?", type=Path, const=True, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    block = render(args.module)
    target = args.write or args.check
    if target is None:
        print(block)
        return 0
    readme = args.module / "README.md" if target is True else target
    current = readme.read_text() if readme.exists() else ""
    updated = replace_block(current, block)
    if updated is None:
        print(f"{readme}: no {BEGIN} ... {END} markers", file=sys.stderr)
        return 1
    if args.check:
        if updated != current:
            print(f"{readme}: Terraform docs are stale; run: scripts/tf_docs.py {args.module} --write", file=sys.stderr)
            return 1
        return 0
    readme.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
