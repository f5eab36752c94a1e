"Sharded preparation + merge, and 2-process (gloo, CPU) training and encoding against single-process runs."
import json, shutil, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from stellar_nbs.spectra import Grid
from stellar_nbs.archive import mock_archive
from stellar_nbs.store import Store, prepare
from stellar_nbs.data import iter_store
from stellar_nbs.train import train_run, encode_store
from stellar_nbs.run import Run
from stellar_nbs.distributed import prepare_shard, merge_stores, train_distributed, encode_distributed

torch.set_num_threads(1)
GRID = '5000:5200:0.5'     # 1,024 px


@pytest.fixture(scope='module')
def archive(tmp_path_factory):
    "A tiny mock archive with one duplicate dp_id (a copied file) and one broken file."
    root = tmp_path_factory.mktemp('dist')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        mock_archive(root/'archive', n_targets=8, seed=1, grid=Grid.parse(GRID), progress=False)
    shutil.copy(sorted((root/'archive').glob('*.fits'))[3], root/'archive'/'zz_copy.fits')
    (root/'archive'/'broken.fits').write_bytes(b'SIMPLE = nonsense')
    return root


def test_two_shards_merge_to_the_single_prepare(archive):
    for i in range(2): prepare_shard(archive/'archive', archive/'sharded', f'{i}/2', grid=GRID, progress=False)
    merged = merge_stores(archive/'sharded', archive/'merged', block=7)      # several blocks, both shards per block
    single = prepare(archive/'archive', archive/'single', grid=GRID, progress=False)
    assert len(merged) == len(single) > 50
    assert (merged.catalog.status == 'duplicate').sum() == 1 and (merged.catalog.status == 'rejected').sum() == 1
    # the same array bytes after sorting by dp_id, and the same catalog content
    om, os_ = np.argsort(merged.dp_ids), np.argsort(single.dp_ids)
    assert np.asarray(merged.flux)[om].tobytes() == np.asarray(single.flux)[os_].tobytes()
    key = lambda c: c.sort_values('source').reset_index(drop=True)
    pd.testing.assert_frame_equal(key(merged.catalog), key(single.catalog))
    assert merged.grid == single.grid


def test_merge_refuses_different_grids(archive):
    prepare_shard(archive/'archive', archive/'mixed', '0/2', grid='5000:5100:0.5', progress=False)
    prepare_shard(archive/'archive', archive/'mixed', '1/2', grid=GRID, progress=False)
    with pytest.raises(ValueError, match='shards must share one grid'): merge_stores(archive/'mixed', archive/'m')


@torch.no_grad()
def valid_recon(run, store) -> float:
    "Masked L1 reconstruction (eval mode: z = mu) of a run's model on its whole validation split."
    model, split = Run(run).model(), pd.read_csv(Path(run)/'split.csv')
    rows = split.row[split.split == 'valid'].to_numpy()
    err = n = 0.
    for _, flux, valid in iter_store(store, bs=64, rows=rows):
        recon = model(flux * valid)[0]
        err += float(((recon - flux).abs() * valid).sum()); n += float(valid.sum())
    return err / n


@pytest.mark.slow
def test_two_processes_train_and_encode_like_one(archive):
    "2 CPU ranks (gloo, per-rank batch 4) vs 1 process (batch 8): same steps, both losses fall, final valid loss within 10%."
    store = archive/'single'
    if not (store/'flux.npy').exists(): prepare(archive/'archive', store, grid=GRID, progress=False)
    kw = dict(config='tiny', bs=8, epochs=3, progress=False, seed=0)
    run2 = train_distributed(store, archive/'run2', nprocs=2, **kw)
    train_run(store, archive/'run1', device='cpu', **kw)
    h2, h1 = pd.read_csv(run2/'history.csv'), pd.read_csv(archive/'run1'/'history.csv')
    assert list(h2.iteration) == list(h1.iteration)                  # the same number of optimiser steps
    for h in (h1, h2): assert h.train_loss.iloc[-1] < h.train_loss.iloc[0] and h.valid_loss.iloc[-1] < h.valid_loss.iloc[0], h
    # rank 0's history only sees half of the validation set: compare both models on the whole of it
    r2, r1, r0 = valid_recon(run2, store), valid_recon(archive/'run1', store), h1.valid_recon.iloc[0]
    print(f"valid recon: 2 ranks {r2:.4f}, 1 process {r1:.4f}, after epoch 1 {r0:.4f}")
    assert abs(r2 - r1) / r1 < 0.10, (r2, r1)
    assert json.loads((run2/'dist.json').read_text())['world_size'] == 2
    assert not (run2/'.ranks').exists()                               # only rank 0's run folder is left
    model = Run(run2).model()                                          # plain SpectrumVAE weights, no 'module.' prefix
    assert torch.load(run2/'checkpoint.pth', weights_only=True)['iteration'] == h2.iteration.iloc[-1]
    # encoding spread over 2 ranks == encode_store
    mu2 = encode_distributed(store, run2, nprocs=2, bs=16)
    lat2 = Run(run2).latents()
    mu1 = encode_store(store, run2, bs=16, device='cpu', progress=False)
    np.testing.assert_allclose(mu2, mu1, atol=1e-5)
    assert mu2.shape == (len(Store(store)), model.config['n_latent'])
    assert list(lat2.index.dp_id) == list(Store(store).dp_ids)
