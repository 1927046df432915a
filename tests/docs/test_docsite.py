# Copyright: Contributors to the pullaccess.aws collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docsite (`make docs`): every plugin, role, playbook and guide has its page, every internal link resolves.

What must be there is read from the tree (plugins/, roles/, playbooks/, docs/docsite/extra-docs.yml),
never listed here, so a new plugin without a page fails this test. Run by `make docs-test`, which puts
the docs venv (antsibull-docs, sphinx-build) and ansible-doc on PATH and installs the collection.
"""

import ast
import html.parser
import pathlib
import subprocess
import urllib.parse

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Plugin directories that have no pages of their own: action plugins are documented by the module
# of the same name, module_utils and doc_fragments are not plugins users call.
NO_PAGES = {"action", "module_utils", "doc_fragments"}


def filter_names(path):
    """The names a filter plugin file's FilterModule.filters() returns (read, not imported)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == "filters":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Dict):
                    return [key.value for key in stmt.value.keys]
    return []


def expected_plugin_pages():
    """Page file name -> what it documents, for every plugin and role in the tree."""
    pages = {}
    for type_dir in sorted((ROOT / "plugins").iterdir()):
        if not type_dir.is_dir() or type_dir.name in NO_PAGES:
            continue
        kind = "module" if type_dir.name == "modules" else type_dir.name
        for path in sorted(type_dir.glob("*.py")):
            if path.name == "__init__.py":
                continue
            names = filter_names(path) if kind in ("filter", "test") else [path.stem]
            assert names, f"{path.relative_to(ROOT)}: no plugin found in it"
            for name in names:
                pages[f"{name}_{kind}.html"] = f"{kind} pullaccess.aws.{name}"
    for spec in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = spec.parents[1].name
        pages[f"{role}_role.html"] = f"role pullaccess.aws.{role}"
    return pages


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()
        self.links = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "a" and key == "name"):
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def read_pages(html_dir):
    """Every HTML page of a built site, parsed."""
    pages = {}
    for path in html_dir.rglob("*.html"):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path] = page
    return pages


def broken_internal_links(html_dir, pages):
    """(number of internal links checked, the broken ones): a missing file or a missing anchor in it."""
    broken = []
    checked = 0
    for path, page in pages.items():
        for link in page.links:
            url = urllib.parse.urlsplit(link)
            if url.scheme or url.netloc or link.startswith("mailto:"):
                continue
            target = (path.parent / urllib.parse.unquote(url.path)).resolve() if url.path else path
            checked += 1
            if not target.exists():
                broken.append(f"{path.relative_to(html_dir)}: {link} (no such file)")
            elif url.fragment and target.suffix == ".html":
                target_page = pages.get(target)
                if target_page is None or urllib.parse.unquote(url.fragment) not in target_page.ids:
                    broken.append(f"{path.relative_to(html_dir)}: {link} (no such anchor)")
    return checked, sorted(broken)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docsite")
    subprocess.run([str(ROOT / "tests/tools/build-docsite"), str(out)], check=True, cwd=ROOT)
    html_dir = out / "html"
    return html_dir, read_pages(html_dir)


def test_every_plugin_and_role_has_a_page(site):
    html_dir, pages = site
    expected = expected_plugin_pages()
    assert any(name.endswith("_module.html") for name in expected)
    missing = [what for name, what in expected.items() if html_dir / name not in pages]
    assert not missing, f"no docsite page for: {missing}"
    index = "".join(pages[html_dir / "index.html"].text)
    for what in expected.values():
        assert what.split()[1].split(".")[-1] in index, f"{what} is not in the collection index"


def test_every_guide_and_playbook_is_documented(site):
    html_dir, pages = site
    extra = yaml.safe_load((ROOT / "docs/docsite/extra-docs.yml").read_text(encoding="utf-8"))
    guides = [html_dir / "docsite" / f"{name}.html" for section in extra["sections"] for name in section["toctree"]]
    assert guides
    missing = [str(guide.relative_to(html_dir)) for guide in guides if guide not in pages]
    assert not missing, f"extra docs without a page: {missing}"
    text = "".join("".join(pages[guide].text) for guide in guides)
    playbooks = sorted(path.stem for path in (ROOT / "playbooks").glob("*.yml"))
    assert playbooks
    undocumented = [name for name in playbooks if f"pullaccess.aws.{name}" not in text]
    assert not undocumented, f"playbooks no guide page mentions: {undocumented}"


def test_internal_links_resolve(site):
    html_dir, pages = site
    checked, broken = broken_internal_links(html_dir, pages)
    assert checked > 100
    assert not broken, "broken internal links:\n" + "\n".join(broken[:50])


def test_link_check_finds_missing_pages_and_anchors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.html").write_text(
        '<a href="sub/b.html#there">ok</a><a href="sub/b.html#gone">anchor</a><a href="c.html">page</a>'
        '<a href="https://example.org/x.html">external</a><img src="sub/b.html">',
        encoding="utf-8",
    )
    (tmp_path / "sub/b.html").write_text('<h1 id="there">B</h1><a href="../a.html">back</a><a href="#here">self</a>', encoding="utf-8")
    checked, broken = broken_internal_links(tmp_path, read_pages(tmp_path))
    assert checked == 6
    assert broken == ["a.html: c.html (no such file)", "a.html: sub/b.html#gone (no such anchor)", "sub/b.html: #here (no such anchor)"]
