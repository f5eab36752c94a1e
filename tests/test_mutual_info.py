"Accuracy tests of the MI estimators (issue 6) and an end-to-end check of the table on the mock latents."
import numpy as np, pandas as pd, pytest
from stellar_nbs.informative import mock_latents, MOCK_NODES, informative_nodes, node_spread
from stellar_nbs.mutual_info import (mutual_info, mi_ksg, mi_gmm, hist_mi_nodes, permutation_null, mi_table, best_nodes,
                                     node_mi, independent_nodes, trace_factors, clean_label, PAPER_BINS, LABELS)

RHO = 0.9
TRUE_MI = -0.5 * np.log(1 - RHO**2)          # 0.830 nats

def gaussian_pair(rho, n=5000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)

def test_analytic_value():
    assert abs(TRUE_MI - 0.830) < 5e-4

@pytest.mark.parametrize('seed', range(5))
def test_ksg_gaussian(seed):
    mi, err = mutual_info(*gaussian_pair(RHO, seed=seed), 'ksg')
    assert abs(mi - TRUE_MI) < 0.05
    assert 0 < err < 0.05

@pytest.mark.parametrize('seed', range(2))
def test_gmm_gaussian(seed):
    mi, err = mutual_info(*gaussian_pair(RHO, seed=seed), 'gmm', n_boot=10)
    assert abs(mi - TRUE_MI) < 0.05
    assert 0 < err < 0.05

@pytest.mark.parametrize('method', ['ksg', 'gmm', 'hist'])
def test_independent_consistent_with_null(method):
    x, y = gaussian_pair(0.0, n=3000 if method == 'gmm' else 5000, seed=7)
    raw, _ = mutual_info(x, y, method, n_boot=5)
    nm, ns, vals = permutation_null(x, y, method, n_perm=5 if method == 'gmm' else 30, seed=1)
    assert abs(raw - nm) < 3 * ns + 1e-3
    mi, err = mutual_info(x, y, method, subtract_null=True, n_perm=5 if method == 'gmm' else 20, n_boot=5)
    assert abs(mi) < 3 * err + 1e-3

def test_histogram_bias_grows_with_bins():
    "The paper's estimator: biased upward at many bins, documented in 07_mutual_info."
    x, y = gaussian_pair(RHO)
    xi, yi = gaussian_pair(0.0, seed=1)
    dep = np.array([hist_mi_nodes(x, y, b)[0] for b in PAPER_BINS])
    ind = np.array([hist_mi_nodes(xi, yi, b)[0] for b in PAPER_BINS])
    assert (np.diff(ind) > 0).all()                  # bias grows monotonically with the number of bins
    assert ind[-1] > 0.5 and dep[-1] > TRUE_MI + 0.5
    assert abs(dep[2] - TRUE_MI) < 0.1               # ~right at 20 bins for n=5000

@pytest.mark.slow
def test_nonlinear_dependence_estimators_agree():
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, 3000); y = np.sin(x) + 0.3 * rng.normal(size=3000)
    assert abs(mi_gmm(x, y, n_boot=2)[0] - mi_ksg(x, y)) < 0.15

def test_clean_label_drops_nan_and_outliers():
    y = np.r_[np.random.default_rng(0).normal(0, 1, 500), np.nan, 50.]
    x, yc = clean_label(np.arange(len(y)), y)
    assert len(yc) == 500 and x.max() == 499

@pytest.fixture(scope='module')
def mock():
    return mock_latents(n=2000)

@pytest.fixture(scope='module')
def table(mock):
    mu, _, lab, _ = mock
    return mi_table(mu, lab, n_workers=0)

def test_table_finds_teff_and_rv(table):
    best = best_nodes(table)
    assert best.loc['teff', 'node'] == MOCK_NODES['teff'] and best.loc['teff', 'mi'] >= 1
    assert best.loc['radvel', 'node'] == MOCK_NODES['radvel'] and best.loc['radvel', 'mi'] >= 1
    assert len(table) == 128 * len(LABELS)

def test_table_per_target_null(table):
    "Node 17 (RV) recognises stars; without the per-target null it would look informative about Teff."
    row = table[(table.node == MOCK_NODES['radvel']) & (table.label == 'teff')].iloc[0]
    assert not row.significant

def test_table_handles_gaps(mock):
    mu, _, lab, _ = mock
    lab = lab.copy(); lab.loc[::3, 'teff'] = np.nan
    t = mi_table(mu, lab.drop(columns=['vsini']), n_workers=0, labels_used=['teff', 'vsini'])
    assert set(t.label) == {'teff'} and (t.n == lab.teff.notna().sum()).all()
    with pytest.raises(ValueError, match='must match row by row'): mi_table(mu[:10], lab)

def test_independent_nodes_track_nuisance(mock, table):
    mu, _, lab, truth = mock
    inf = informative_nodes(mu)
    ind = independent_nodes(table, node_mi(mu, inf), inf, node_spread(mu))
    nodes = list(ind.index[ind.independent])
    assert nodes == [MOCK_NODES['pwv_copy']]
    tr = trace_factors(mu, truth, nodes, n_workers=0)
    assert tr.iloc[0].label == 'pwv' and tr.iloc[0].significant

def test_null_takes_the_permutations_asked_for(mock):
    "No silent cap: a GMM null with n_perm=6 takes 6 permutations (the old code clipped it to 5 in mutual_info, 3 in mi_table)."
    from stellar_nbs.mutual_info import MISettings
    x, y = gaussian_pair(0.5, n=400, seed=3)
    kw = dict(n_boot=2, max_components=2)
    (mi, err), (nm, ns, vals) = mutual_info(x, y, 'gmm', **kw), permutation_null(x, y, 'gmm', 6, **kw)
    assert len(vals) == 6
    assert mutual_info(x, y, 'gmm', subtract_null=True, n_perm=6, **kw) == (mi - nm, float(np.hypot(err, ns)))
    mu, _, lab, _ = mock
    t = mi_table(mu[:300, [3, 5]], lab.iloc[:300], 'gmm', labels_used=['airmass'], n_workers=0, settings=MISettings.of(n_perm=4, screen=False, **kw))
    assert t.attrs['n_perm'] == 4
    nm4, ns4, _ = permutation_null(mu[:300, 3].astype(float), lab.airmass.values[:300], 'gmm', 4, groups=lab.target.values[:300], **kw)
    assert (t.null_mean.iloc[0], t.null_std.iloc[0]) == (nm4, ns4)
    assert MISettings.of(k=5, z_sig=3.) == MISettings(z_sig=3., options=dict(k=5))
