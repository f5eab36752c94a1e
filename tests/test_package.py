"Package-level checks: version, exported grid, and that notebooks and package agree."
import json, subprocess, sys
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

def test_every_notebook_declares_its_module():
    for nb in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        src = ''.join(cells[0]['source'])
        if nb.stem.startswith('9'): continue   # the paper notebook exports nothing
        assert src.startswith('#| default_exp'), f"{nb.name}: first cell must be '#| default_exp <module>'"

def test_readme_is_index_notebook():
    "README.md is generated from nbs/index.ipynb (its markdown cells); regenerate it after editing the notebook."
    from stellar_nbs.docs import readme_markdown
    assert (ROOT/'README.md').read_text() == readme_markdown(ROOT/'nbs'/'index.ipynb'), \
        "README.md is out of date: run `python -c 'from stellar_nbs.docs import write_readme; write_readme()'`"
