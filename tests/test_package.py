"Package-level checks: version, exported grid, and that notebooks and package agree."
import json, re, subprocess, sys
from pathlib import Path
import stellar_nbs
from stellar_nbs.spectra import Grid

ROOT = Path(__file__).resolve().parents[1]

def test_version_matches_settings():
    ini = (ROOT/'settings.ini').read_text()
    version = next(l.split('=')[1].strip() for l in ini.splitlines() if l.startswith('version'))
    assert stellar_nbs.__version__ == version

def test_harps_grid_is_the_papers():
    g = Grid.harps()
    assert (g.n_core, g.length, g.pad_left, g.pad_right) == (312_501, 327_680, 7_589, 7_590)
    assert not g.valid[159_453:162_894].any() and g.valid[159_452] and g.valid[162_894]

def test_every_exporting_notebook_declares_its_module():
    "A notebook that exports code names its module in its first cell; narratives (11_docs, 90_paper) export nothing."
    exporting = 0
    for nb in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')):
        cells = [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
        if not any(re.match(r'\s*#\|\s*export', s) for s in cells): continue
        exporting += 1
        assert cells[0].startswith('#| default_exp'), f"{nb.name}: first cell must be '#| default_exp <module>'"
    assert exporting >= 10, f"only {exporting} notebooks export code"

def test_runtime_modules_do_not_import_the_dev_tools():
    "Importing every module of the package imports none of nbdev, execnb, MkDocs (the docs builder is in tests/tools)."
    mods = sorted(p.stem for p in (ROOT/'stellar_nbs').glob('*.py') if p.stem != '__init__')
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module('stellar_nbs.' + m)\n"
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'nbdev', 'execnb', 'mkdocs'}))")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == '[]', f"importing stellar_nbs imports development tools: {res.stdout.strip()}"
    assert 'docs' not in mods, "stellar_nbs/docs.py is back: the docs builder lives in tests/tools/build_docs.py"

def test_readme_is_index_notebook():
    "README.md is generated from nbs/index.ipynb (its markdown cells); regenerate it after editing the notebook."
    from build_docs import readme_markdown
    assert (ROOT/'README.md').read_text() == readme_markdown(ROOT/'nbs'/'index.ipynb'), \
        "README.md is out of date: run `python tests/tools/build_docs.py --readme`"
