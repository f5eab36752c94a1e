"Checks behind the capacity work (nbs/12_capacity): the fast paths give what the slow ones give, at sizes the notebooks do not reach."
import numpy as np, pandas as pd, pytest
from stellar_nbs.anomalies import neighbour_reference, robust_standardisation

def latents_and_stars(n=6000, n_nodes=8, seed=0):
    "Latents on a few underlying factors (as trained informative nodes are) and a heavy-tailed number of spectra per star."
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 4))
    mu = np.tanh(f @ rng.normal(0, .7, (4, n_nodes))) + .05 * rng.normal(size=(n, n_nodes))
    sizes = np.minimum(rng.pareto(1.2, n) + 1, 300).astype(int)
    stars = np.repeat(np.arange(n), sizes)[:n]
    return mu, rng.permutation(stars)

def neighbour_distances(mu, ref):
    "Sorted float64 distances from each row to its reference rows, in the standardised space the search uses."
    c, s = robust_standardisation(mu); x = (mu - c) / s
    return np.sort(np.linalg.norm(x[ref] - x[:, None], axis=2), 1)

@pytest.mark.parametrize('n_nodes', [8, 20])
def test_every_neighbour_search_finds_the_brute_force_neighbours(n_nodes):
    "k-d tree, ball tree, 'auto' and the torch (GPU) path against brute force: the same neighbours, none of the row's own star."
    mu, stars = latents_and_stars(n_nodes=n_nodes)
    brute = neighbour_reference(mu, groups=stars, algorithm='brute')
    assert (stars[brute] != stars[:, None]).all(), "a neighbour from the row's own star"
    d0 = neighbour_distances(mu, brute)
    for how, kw in [('kd_tree', dict(algorithm='kd_tree')), ('ball_tree', dict(algorithm='ball_tree')), ('auto', {}), ('torch', dict(device='cpu'))]:
        ref = neighbour_reference(mu, groups=stars, **kw)
        same = (np.sort(ref, 1) == np.sort(brute, 1)).all(1)
        # rows whose neighbour sets differ may only swap rows at the same distance (float32 rounding of a tie)
        np.testing.assert_allclose(neighbour_distances(mu, ref)[~same], d0[~same], rtol=1e-5, err_msg=how)
        assert same.mean() > 0.999, f"{how}: {(~same).sum()} of {len(same)} rows have other neighbours than brute force"
