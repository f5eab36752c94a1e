"End-to-end checks of stellar_nbs.model / stellar_nbs.train on CPU (tiny models, tiny data)."
import json, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from fastai.callback.core import Callback
from fastai.torch_core import set_seed
from stellar_nbs.spectra import Grid
from stellar_nbs.model import SpectrumVAE, vae_config
from stellar_nbs.train import (BottleneckLoss, KLWarmup, array_dataloaders, vae_learner, save_checkpoint,
                               load_checkpoint, train_run, encode_store)
from stellar_nbs.run import Run

torch.set_num_threads(1)     # tiny models: more threads only busy-wait on a shared 2-core machine
GRID = Grid(5000., 5200., 0.5, pad_left=47, pad_right=48, gaps=((5150., 5160.),))   # 512 px


def toy_flux(n=64, seed=0, grid=GRID):
    "A tilted continuum times five Gaussian lines Doppler-shifted by a random RV; NaN outside the valid mask."
    rng = np.random.default_rng(seed)
    rv, tilt = rng.uniform(-300, 300, n), rng.uniform(-0.3, 0.3, n)
    w = grid.wave; x = (w - 0.5 * (grid.wmin + grid.wmax)) / (grid.wmax - grid.wmin)
    lines = grid.wmin + (grid.wmax - grid.wmin) * np.array([0.15, 0.3, 0.45, 0.6, 0.85])
    shifted = lines[None, :, None] * (1 + rv[:, None, None] / 299792.458)
    absorption = (0.6 * np.exp(-0.5 * ((w[None, None] - shifted) / 1.5)**2)).sum(1)
    flux = (1 + tilt[:, None] * x[None]) * (1 - absorption) + rng.normal(0, 0.005, (n, grid.length))
    return np.where(grid.valid, flux, np.nan).astype(np.float32)


class ArrayStore:
    "Minimal in-memory stand-in with the attributes of stellar_nbs.store.Store that train_run uses."
    def __init__(self, flux, grid, path):
        self.flux, self.grid, self.path = flux, grid, Path(path)
        self.dp_ids = np.array([f'TOY.{i:04d}' for i in range(len(flux))])
    def __len__(self): return len(self.flux)


def tiny_learner(dls, seed=0, **kw):
    set_seed(seed, reproducible=True)
    return vae_learner(dls, SpectrumVAE(**vae_config(GRID.length, 'tiny')), progress=False, **kw)


def test_tiny_model_learns_on_cpu():
    flux = toy_flux(96)
    dls = array_dataloaders(flux, bs=16, valid_pct=0.25)
    learn = tiny_learner(dls, lr=3e-3, kl=dict(start=0.2, end=0.6, beta=0.01))
    learn.fit(12)
    train_recon, valid_recon = [v[1] for v in learn.recorder.values], [v[4] for v in learn.recorder.values]
    flat = np.nanmean(np.abs(flux[dls.valid_rows] - 1))     # predicting the continuum level everywhere
    assert valid_recon[-1] < valid_recon[0] and train_recon[-1] < train_recon[0], (train_recon, valid_recon)
    assert valid_recon[-1] < flat, (valid_recon, flat)


def test_gap_flux_changes_nothing():
    "Flux inside the masked gap (input and target) changes neither the loss nor the gradients."
    dls = array_dataloaders(toy_flux(32), bs=8, valid_pct=0.25)
    learn = tiny_learner(dls, kl=dict(start=0, end=1, beta=0.3))
    x, y, v = dls.one_batch()
    gap = torch.from_numpy(~GRID.valid)[None, None].expand_as(v)
    wild = x.masked_fill(gap, 1e3)
    def loss_and_grad(b):
        learn.model.train(); learn.model.zero_grad()
        torch.manual_seed(1)
        learn.xb, learn.yb = b[:1], b[1:]; learn('before_batch')
        loss = learn.loss_func(learn.model(*learn.xb), *learn.yb); loss.backward()
        return loss.item(), torch.cat([p.grad.flatten() for p in learn.model.parameters()])
    (l0, g0), (l1, g1) = loss_and_grad((x, y, v)), loss_and_grad((wild, wild, v))
    assert l0 == l1 and torch.equal(g0, g1)


def test_kl_weight_schedule():
    kw = KLWarmup()
    assert [kw.weight(i) for i in (0, 5000, 12500, 20000, 30000)] == pytest.approx([0, 0, 0.15, 0.3, 0.3])
    frac = KLWarmup(start=0.1, end=0.5, beta=0.3)
    assert frac.weight(300, total=1000) == pytest.approx(0.15)


def test_checkpoint_round_trip_bit_for_bit(tmp_path):
    dls = array_dataloaders(toy_flux(32), bs=8, valid_pct=0.25)
    learn = tiny_learner(dls, lr=1e-2); learn.fit(1)
    save_checkpoint(learn, tmp_path/'ck.pth')
    other = tiny_learner(dls, seed=5)
    load_checkpoint(other, tmp_path/'ck.pth')
    x = dls.one_batch()[0]
    learn.model.eval(); other.model.eval()
    with torch.no_grad():
        for a, b in zip(learn.model(x), other.model(x)): assert torch.equal(a, b)
    sa, sb = learn.opt.state_dict(), other.opt.state_dict()
    for k in sa['state']:
        for name, t in sa['state'][k].items(): assert torch.equal(t, sb['state'][k][name])
    assert other.iteration == learn.iteration
    torch.load(tmp_path/'ck.pth', weights_only=True)       # nothing but tensors and plain data


class Crash(Callback):
    "Simulate a crash once `learn.iteration` reaches `at`."
    def __init__(self, at): self.at = at
    def after_batch(self):
        if self.training and self.learn.iteration >= self.at: raise RuntimeError('simulated crash')


class Spy(Callback):
    order = 0
    def __init__(self): self.seen = []
    def before_batch(self):
        if self.training: self.seen.append((self.learn.iteration, self.loss_func.w_kl))


def test_resume_continues_schedule(tmp_path):
    "A run killed mid-epoch resumes at the saved iteration; iterations and KL weights follow the plan."
    store = ArrayStore(toy_flux(48), GRID, tmp_path/'store')
    dls = lambda: array_dataloaders(store.flux, bs=8, valid_pct=0.25)
    per_epoch = len(dls().train)                      # 36 train spectra / 8 -> 4 batches (drop_last)
    kl = dict(start=2, end=10, beta=0.3)
    with pytest.raises(RuntimeError, match='simulated crash'):    # last periodic checkpoint: iteration per_epoch + 2
        train_run(store, tmp_path/'run', config='tiny', epochs=3, kl=kl, every=per_epoch + 2, dls=dls(),
                  cbs=[Crash(per_epoch + 3)], progress=False)
    state = torch.load(tmp_path/'run'/'checkpoint.pth', weights_only=True)
    assert state['iteration'] == per_epoch + 2
    spy = Spy()
    learn = train_run(store, tmp_path/'run', config='tiny', epochs=3, kl=kl, dls=dls(), cbs=[spy], progress=False)
    its = [i for i, _ in spy.seen]
    assert its == list(range(per_epoch + 2, 3 * per_epoch))
    assert [w for _, w in spy.seen] == pytest.approx([KLWarmup(**kl).weight(i) for i in its])
    assert learn.iteration == 3 * per_epoch
    h = pd.read_csv(tmp_path/'run'/'history.csv')
    assert list(h.epoch) == [0, 1, 2] and list(h.iteration) == [per_epoch, 2 * per_epoch, 3 * per_epoch]
    for col in ('train_loss', 'valid_loss', 'recon', 'kl', 'train_recon', 'train_kl', 'valid_recon', 'valid_kl'):
        assert np.isfinite(h[col]).all(), col


def test_same_seed_same_result(tmp_path):
    store = ArrayStore(toy_flux(40), GRID, tmp_path/'store')
    def run(name, seed):
        train_run(store, tmp_path/name, config='tiny', epochs=2, seed=seed,
                  dls=array_dataloaders(store.flux, bs=8, valid_pct=0.2, seed=seed), progress=False)
        return Run(tmp_path/name).model().state_dict()
    a, b, c = run('a', 0), run('b', 0), run('c', 1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_run_folder_contents(tmp_path):
    store = ArrayStore(toy_flux(40), GRID, tmp_path/'store')
    run = tmp_path/'run'
    train_run(store, run, config='tiny', epochs=2, dls=array_dataloaders(store.flux, bs=8), progress=False)
    cfg = json.loads((run/'config.json').read_text())
    assert cfg['model'] == vae_config(GRID.length, 'tiny') and cfg['grid'] == GRID.to_dict()
    assert cfg['store'] == str((tmp_path/'store').resolve()) and cfg['total_iterations'] == 2 * cfg['iterations_per_epoch']
    split = pd.read_csv(run/'split.csv')
    assert sorted(split.row) == list(range(40)) and set(split.split) == {'train', 'valid'}
    model = Run(run).model()
    assert not model.training and model.config == cfg['model']
    with pytest.raises(FileNotFoundError, match='nope.pth'): Run(run).model(fname='nope.pth')


@pytest.fixture(scope='module')
def mock_store(tmp_path_factory):
    from stellar_nbs.archive import mock_archive
    from stellar_nbs.store import prepare
    work = tmp_path_factory.mktemp('mock')
    grid = Grid.parse('5000:5600:0.5')
    mock_archive(work/'fits', n_targets=6, seed=1, grid=grid, n_exposures_max=5, progress=False)
    return prepare(work/'fits', work/'store', grid=grid, labels=work/'fits'/'labels.csv', progress=False)


@pytest.mark.slow
def test_train_run_on_mock_store(mock_store, tmp_path):
    "The tiny preset trains on a tiny mock archive through store_dataloaders; loss falls; encoding is in store order."
    run = tmp_path/'run'
    train_run(mock_store, run, config='tiny', epochs=30, bs=2, lr=3e-3, device='cpu', progress=False)
    h = pd.read_csv(run/'history.csv')
    assert len(h) == 30 and np.isfinite(h[['train_loss', 'valid_loss', 'train_recon', 'train_kl']]).all().all()
    split = pd.read_csv(run/'split.csv'); train_rows = split.row[split.split == 'train'].to_numpy()
    f = np.asarray(mock_store.flux[train_rows], dtype=np.float32)
    x = torch.from_numpy(np.nan_to_num(f))[:, None]
    with torch.no_grad(): rec = Run(run).model()(x)[0][:, 0].numpy()
    flat, trained = np.nanmean(np.abs(f - 1)), np.nanmean(np.abs(f - rec))      # NaN = masked pixels
    assert trained < 0.8 * flat, (trained, flat)          # learned the training spectra beyond the continuum level
    mu = encode_store(None, run, bs=7, device='cpu', progress=False)          # the store named in config.json
    mu2, logvar, index = Run(run).latents()
    assert mu.shape == (len(mock_store), 16) and mu.dtype == np.float32 and np.array_equal(mu, mu2)
    assert list(index.row) == list(range(len(mock_store))) and list(index.dp_id) == list(mock_store.dp_ids)
    assert np.isfinite(logvar).all()
    model = Run(run).model()
    x = torch.from_numpy(np.nan_to_num(np.asarray(mock_store.flux[5:6], dtype=np.float32)))[:, None]
    with torch.no_grad(): np.testing.assert_allclose(model.encode(x)[0].numpy()[0], mu[5], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(encode_store(mock_store, run, bs=64, device="cpu", progress=False), mu, atol=1e-5)
