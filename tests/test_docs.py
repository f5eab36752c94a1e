"""The docs site: build it from the notebooks (nbdev's processing + MkDocs Material) and check every page.

One build (about a minute on 2 cores) is shared by the tests below."""
import re, shutil
from pathlib import Path

import pytest, yaml
from build_docs import build_docs, check_docs, doc_notebooks, page_name, page_names   # tests/tools (conftest.py)

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    return build_docs(tmp_path_factory.mktemp('docs')/'site', nbs=NBS, n_workers=2)

def _html(site, nb): return (site.site/Path(page_name(nb)).with_suffix('.html')).read_text()

@pytest.mark.slow
def test_every_notebook_has_a_page_in_notebook_order(site):
    nbs = doc_notebooks(NBS)
    assert [p['notebook'] for p in site.pages if p['notebook'] != 'README.md'] == [n.name for n in nbs]
    for nb in nbs: assert (site.site/Path(page_name(nb)).with_suffix('.html')).exists(), nb.name
    nav = re.findall(r'<a href="([\w.-]+\.html)" class="md-nav__link', _html(site, nbs[-1]))
    assert list(dict.fromkeys(nav)) == [Path(page_name(n)).with_suffix('.html').name for n in nbs]

@pytest.mark.slow
def test_module_pages_document_their_exported_names(site):
    problems = check_docs(site.site, NBS)
    assert problems == [], "pages missing or incomplete:\n" + '\n'.join(problems)

@pytest.mark.slow
def test_notebooks_survive_nbdevs_docs_processing(site):
    # the same cells fail under `nbdev_docs` (Quarto), which stops at the first one
    assert site.problems == [], ("cells that fail when nbdev executes imports/exports/show_doc for the docs "
                                 "(usually an import mixed with other code in one cell):\n" + '\n'.join(site.problems))

@pytest.mark.slow
def test_pages_have_no_hidden_or_exported_source(site):
    for nb in doc_notebooks(NBS):
        page = re.sub(r'<pre>(?:(?!</pre>).)*?Traceback.*?</pre>', '', _html(site, nb), flags=re.S)  # tracebacks
        ids, text = page_names(page)
        for pattern in (r'^\s*#\|\s*(export|exporti|exports|hide|default_exp)\b', r'^\s*show_doc\(', r'nbdev\.nbdev_export\(\)'):
            assert not re.search(pattern, text, flags=re.M), f"{nb.name}: {pattern!r} on the page"

@pytest.mark.slow
def test_site_works_offline(site):
    index = (site.site/'index.html').read_text()
    assert 'fonts.googleapis.com' not in index
    assert (site.site/'search'/'search_index.js').exists() or (site.site/'search'/'search_index.json').exists()

def test_quarto_configuration_is_valid(tmp_path):
    "`nbdev_docs` (for users with Quarto) reads nbs/_quarto.yml and nbs/nbdev.yml."
    import subprocess, sys
    quarto = yaml.safe_load((NBS/'_quarto.yml').read_text())
    assert quarto['project']['type'] == 'website'
    assert 'nbdev.yml' in quarto['metadata-files']
    # nbdev.yml in sync with settings.ini: what nbdev's `refresh_quarto_yml` writes into a copy of the project
    # (in a process of its own: nbdev caches the configuration of the first project it sees)
    shutil.copy(ROOT/'settings.ini', tmp_path/'settings.ini')
    (tmp_path/'nbs').mkdir()
    shutil.copy(NBS/'_quarto.yml', tmp_path/'nbs'/'_quarto.yml')
    res = subprocess.run([sys.executable, '-c', 'from nbdev.quarto import refresh_quarto_yml; refresh_quarto_yml()'],
                         cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert yaml.safe_load((NBS/'nbdev.yml').read_text()) == yaml.safe_load((tmp_path/'nbs'/'nbdev.yml').read_text())

def test_command_line_help():
    import subprocess, sys
    res = subprocess.run([sys.executable, 'tests/tools/build_docs.py', '--help'], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert '--execute' in res.stdout and '--dest' in res.stdout and '--readme' in res.stdout
