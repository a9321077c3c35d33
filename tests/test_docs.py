"""The documentation site builds with ``mkdocs build --strict``, and what it promises exists.

Strict mode turns every warning into a failure: a page missing from the nav, a
broken link or image, a docstring that mkdocstrings cannot parse.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_pages() -> list[str]:
    return re.findall(r":\s*([\w-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)


@pytest.mark.slow
def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    for page in _nav_pages():
        built = tmp_path / "site" / ("index.html" if page == "index.md" else page[:-3] + "/index.html")
        assert built.exists(), page


def test_every_nav_page_and_picture_exists():
    pages = _nav_pages()
    assert {"index.md", "cli.md", "tutorials.md", "api.md"} <= set(pages)
    missing = [page for page in pages if not (DOCS / page).exists()]
    assert not missing, f"pages in mkdocs.yml's nav without a file: {missing}"
    for page in pages:
        for target in re.findall(r"\]\((img/[^)\s]+)", (DOCS / page).read_text()):
            assert (DOCS / target).exists(), f"{page} shows {target}, which docs/make_pictures.py makes"


def test_index_links_every_page():
    index = (DOCS / "index.md").read_text()
    for page in _nav_pages():
        if page != "index.md":
            assert f"]({page})" in index, f"the 'What is where' table lacks {page}"


def test_command_line_page_covers_every_option():
    from keras_cnnlab import cli

    page = (DOCS / "cli.md").read_text()
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert f"## cnnlab {name}" in page
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in page, f"docs/cli.md does not describe cnnlab {name} {option}"


def test_tutorials_page_is_measured():
    page = (DOCS / "tutorials.md").read_text()
    assert "<<" not in page, "a figure is still to be measured"
    for script in sorted((ROOT / "examples").glob("tutorial_*.py")):
        assert f"examples/{script.name}" in page


PUBLIC_MODULES = (
    "blocks", "models", "data", "shapes", "augment", "trace", "callbacks", "callbacks.report",
    "callbacks.gap_monitor", "curves", "tuning", "plots", "testing", "recipe", "losses", "compiling",
    "distribute", "saving",
)


def test_every_public_class_and_function_has_a_docstring_and_an_api_entry():
    import importlib
    import inspect

    api = (DOCS / "api.md").read_text()
    entries = set(re.findall(r"^::: (\S+)", api, flags=re.M))
    undocumented, missing = [], []
    for short in PUBLIC_MODULES:
        module = importlib.import_module(f"keras_cnnlab.{short}")
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants are described by the pages that use them
            if not (obj.__doc__ or "").strip():  # its own, not a base class's
                undocumented.append(f"{short}.{name}")
            # listed by name, or its whole module is rendered
            if not any(e.endswith(f".{name}") or e == obj.__module__ for e in entries):
                missing.append(f"{short}.{name}")
    assert not undocumented, f"no docstring: {undocumented}"
    assert not missing, f"not in docs/api.md: {missing}"


def test_no_page_has_a_figure_left_to_fill_in():
    placeholder = re.compile(r"<<[A-Z_]+>>|\b[A-Z]+_(?:TABLE|FIGURE|FIGURES)\b")
    pages = [*DOCS.glob("*.md"), ROOT / "README.md", ROOT / "bench" / "README.md"]
    left = {str(p.relative_to(ROOT)): placeholder.findall(p.read_text()) for p in pages}
    assert not {page: found for page, found in left.items() if found}


def test_every_benchmark_figure_block_is_filled():
    blocks = 0
    for page in sorted(DOCS.glob("*.md")):
        found = re.findall(r"<!-- bench:([\w-]+)[^>]*-->\n(.*?)<!-- /bench -->", page.read_text(), flags=re.S)
        for name, body in found:
            blocks += 1
            assert body.startswith("| figure |") and "Measured by `" in body, (
                f"{page.name}: the bench:{name} figures are empty; `make bench` fills them"
            )
    assert blocks >= 4


def test_pictures_script_knows_every_picture():
    source = (DOCS / "make_pictures.py").read_text()
    for page in _nav_pages():
        if (DOCS / page).exists():
            for target in re.findall(r"\]\(img/([^)\s]+)", (DOCS / page).read_text()):
                assert target in source, f"docs/make_pictures.py does not make img/{target}"
