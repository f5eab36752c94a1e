"analyse_run on synthetic run folders laid out as train.encode_store writes them (issue 6)."
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest
import matplotlib; matplotlib.use('Agg')
from stellar_nbs.informative import mock_latents, MOCK_NODES
from stellar_nbs.report import analyse_run, run_labels
from stellar_nbs.run import Run

def write_run(path, n=500, seed=0, store=None):
    path.mkdir(parents=True)
    mu, logvar, lab, truth = mock_latents(n, seed=seed)
    dp = np.array([f'ADP.2031-01-01T00:{i // 60:02d}:{i % 60:06.3f}' for i in range(n)])
    np.save(path/'latents.npy', mu); np.save(path/'latents_logvar.npy', logvar)
    pd.DataFrame(dict(row=np.arange(n), dp_id=dp)).to_csv(path/'latents_index.csv', index=False)
    if store is not None:
        store.mkdir(parents=True)
        lab.assign(dp_id=dp, row=np.arange(n)).to_csv(store/'labels.csv', index=False)
        (path/'config.json').write_text(json.dumps({'store': str(store)}))
    return lab.assign(dp_id=dp), truth.assign(dp_id=dp)

def test_report_from_store_named_in_config(tmp_path):
    lab, truth = write_run(tmp_path/'run', store=tmp_path/'store')
    rep = analyse_run(tmp_path/'run', truth=truth, n_boot=30, n_workers=0)
    on_disk = json.loads((tmp_path/'run'/'report.json').read_text())
    assert on_disk == json.loads(json.dumps(rep))
    assert {3, 17, 40, 41, 64} <= set(rep['informative_nodes']) <= {3, 17, 40, 41, 64, 90} and len(rep['mad']) == 128
    for label, node in (('teff', MOCK_NODES['teff']), ('radvel', MOCK_NODES['radvel'])):
        b = rep['best_node'][label]
        assert b['node'] == node and b['mi'] >= 1 and b['error'] > 0 and b['method'] == 'ksg'
    assert rep['independent_nodes'] == [MOCK_NODES['pwv_copy']] and rep['independent_traced'][0]['label'] == 'pwv'
    assert {'mad > 0.02 (paper)', 'active units: Var(mu) > E[sigma^2]'} <= set(rep['counts'])
    md = (tmp_path/'run'/'report.md').read_text()
    assert 'Best node per label' in md and '![mad_stem.png](mad_stem.png)' in md
    for f in rep['figures']: assert (tmp_path/'run'/f).stat().st_size > 1000

@pytest.mark.slow
def test_report_gmm_two_labels(tmp_path):
    lab, _ = write_run(tmp_path/'run', n=300, store=tmp_path/'store')
    rep = analyse_run(tmp_path/'run', labels=lab[['dp_id', 'teff', 'airmass']], method='gmm', n_boot=10, figures=False, n_workers=0,
                      max_components=4, n_perm=2)
    assert rep['best_node']['teff']['node'] == MOCK_NODES['teff'] and rep['best_node']['teff']['method'] == 'gmm'
    assert 'figures' not in rep

def test_labels_join_and_errors(tmp_path):
    lab, _ = write_run(tmp_path/'run', n=100)
    mu, logvar, index = Run(tmp_path/"run").latents()
    shuffled = lab.sample(frac=1, random_state=1).iloc[5:]
    joined = run_labels(tmp_path/'run', index, labels=shuffled)
    assert list(joined.dp_id) == list(index.dp_id) and joined.teff.isna().sum() == 5
    np.testing.assert_allclose(joined.teff.dropna(), lab.set_index('dp_id').loc[joined.dp_id[joined.teff.notna()], 'teff'])
    with pytest.raises(ValueError, match='more than once'): run_labels(tmp_path/'run', index, labels=pd.concat([lab, lab[:1]]))
    np.save(tmp_path/'run'/'latents_logvar.npy', logvar[:10])
    with pytest.raises(ValueError, match='disagree'): Run(tmp_path/"run").latents()
    with pytest.raises(FileNotFoundError, match='latents.npy'): analyse_run(tmp_path/'nothing')
