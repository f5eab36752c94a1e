"End-to-end checks of `stellar_nbs.data`: mock archive -> prepare -> DataLoaders -> a fastai Learner; split and balance."
import numpy as np, pandas as pd, pytest, torch
from torch import nn
from scipy.stats import chisquare
from fastai.learner import Learner
import fastai.callback.progress   # Learner.no_bar
from stellar_nbs.spectra import Grid
from stellar_nbs.archive import mock_archive
from stellar_nbs.store import prepare
from stellar_nbs.data import store_dataloaders, iter_store, split_by_target, target_weights, target_groups

GRID = Grid.parse('5000:5600:0.5')

@pytest.fixture(scope='module')
def mock_store(tmp_path_factory):
    d = tmp_path_factory.mktemp('mock')
    truth = mock_archive(d/'archive', n_targets=12, seed=1, grid=GRID, n_exposures_max=8, progress=False)
    st = prepare(d/'archive', d/'store', grid=GRID, labels=d/'archive'/'labels.csv', progress=False)
    return st, truth

def test_labels_join_every_mock_spectrum(mock_store):
    st, truth = mock_store
    assert st.label_report['matched'] == len(st) == (st.catalog.status == 'ok').sum()
    lab = st.labels
    assert list(lab.index) == list(range(len(st)))
    archive_labels = pd.read_csv(st.path.parent/'archive'/'labels.csv', dtype={'dp_id': str}).set_index('dp_id').loc[st.dp_ids]
    for c in ('radvel', 'teff', 'snr'):
        np.testing.assert_allclose(lab[c].to_numpy(float), archive_labels[c].to_numpy(float), atol=1e-9)

def test_split_by_target_on_the_mock(mock_store):
    st, truth = mock_store
    dls = store_dataloaders(st, bs=4, valid_pct=0.25, seed=0)
    true_star = truth.set_index('dp_id').loc[st.dp_ids, 'target'].to_numpy()
    assert not set(true_star[dls.train_rows]) & set(true_star[dls.valid_rows])
    assert len(dls.valid_rows) > 0 and len(dls.valid_rows) <= 0.25 * len(st)
    sky = store_dataloaders(st, bs=4, valid_pct=0.25, seed=0, by='sky')          # same stars found from coordinates
    assert not set(true_star[sky.train_rows]) & set(true_star[sky.valid_rows])
    assert len(set(target_groups(st, by='sky'))) == len(set(true_star))

class TinyAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Conv1d(1, 4, 5, stride=4, padding=2), nn.ConvTranspose1d(4, 1, 4, stride=4)
    def forward(self, x): return self.dec(torch.relu(self.enc(x)))

def masked_l1(pred, flux, valid): return (pred - flux).abs()[valid].mean()

@pytest.mark.slow
def test_fastai_learner_trains_on_store_batches(mock_store):
    st, _ = mock_store
    torch.manual_seed(0)
    dls = store_dataloaders(st, bs=4, valid_pct=0.2, seed=0, device='cpu')
    learn = Learner(dls, TinyAE(), loss_func=masked_l1, lr=3e-3)
    with learn.no_bar(), learn.no_logging(): learn.fit(3)
    train_loss, valid_loss = learn.recorder.values[-1][:2]
    assert np.isfinite(train_loss) and np.isfinite(valid_loss)
    first = learn.recorder.values[0][1]
    assert valid_loss < first or valid_loss < 0.5, learn.recorder.values          # it learns something
    preds, targs = learn.get_preds(dl=dls.valid)                                   # dl.new() path used by fastai
    assert preds.shape == (len(dls.valid_rows), 1, GRID.length)

def test_iter_store_covers_the_store_in_order(mock_store):
    st, _ = mock_store
    rows = np.concatenate([r for r, f, v in iter_store(st, bs=7)])
    assert (rows == np.arange(len(st))).all()
    r, f, v = next(iter_store(st, bs=len(st)))
    raw = np.asarray(st.flux[:], dtype=np.float32)
    assert (v[:, 0].numpy() == ~np.isnan(raw)).all() and np.array_equal(f[:, 0].numpy(), np.nan_to_num(raw, nan=0.))

def test_balance_with_one_dominant_star():
    "A star with 200 of 260 spectra: balanced sampling draws it as often as any other star, not 77% of the time."
    groups = np.array(['BIG'] * 200 + [f'S{k}' for k in range(30) for _ in range(2)])
    w = target_weights(groups)
    draws = pd.Series(groups[np.random.default_rng(0).choice(len(groups), 200_000, p=w)]).value_counts()
    assert chisquare(draws).pvalue > 1e-3
    assert abs(draws['BIG'] / draws.sum() - 1 / 31) < 0.003
    tr, va = split_by_target(groups, 0.1, seed=0)
    assert 'BIG' not in set(groups[va]) and len(va) <= 26                         # too large to be held out
