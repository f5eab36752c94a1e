"""Speed of learning (benchmark print, not a test): spectrum passes needed before the RV and the Teff label each have a
node with KSG MI >= 1 nat, for the old `cpu` recipe (`old`: preset `cpu_v1`), the first study's (`v2`: `cpu_v2`) and the
current `cpu` preset (`new`), on one mock archive.

Every `--every` epochs a callback encodes all spectra (eval mode, latent means), takes for RV and Teff the largest KSG MI
over the nodes (`mutual_info.mi_ksg`, labels from the store) and appends a row to OUT/learning_speed.csv
(recipe, epoch, passes, rv_mi, rv_node, teff_mi, teff_node, n_mad, n_active). Usage:
    python tests/bench_learning_speed.py OUT [--n-targets 500] [--grid 4000:6900:1.0] [--every 5] [--recipes old v2 new]
Each recipe trains on one core; `--parallel` runs both at once (one core each).
"""
import argparse, json, sys, time, subprocess
from pathlib import Path
import numpy as np, pandas as pd

RECIPES = {'old': 'cpu_v1', 'v2': 'cpu_v2', 'new': 'cpu'}     # recipe name in the CSV -> training preset

def probe_row(model, store, labels, recipe, epoch, passes):
    import torch
    from stellar_nbs.train import encode_rows
    from stellar_nbs.mutual_info import mi_ksg
    from stellar_nbs.informative import informative_nodes, active_units
    was = model.training; model.eval()
    mu, lv = encode_rows(model, store)
    model.train(was)
    row = dict(recipe=recipe, epoch=epoch, passes=passes, n_mad=len(informative_nodes(mu)), n_active=len(active_units(mu, lv)))
    for lab in ('radvel', 'teff'):
        y = labels[lab].to_numpy(float); ok = np.isfinite(y)
        mis = [mi_ksg(mu[ok, k], y[ok]) for k in range(mu.shape[1])]
        k = int(np.argmax(mis)); row[f'{lab}_mi'], row[f'{lab}_node'] = float(mis[k]), k
    return row

def train_one(recipe, store_dir, out, every, seed):
    import torch; torch.set_num_threads(1)
    from fastai.callback.core import Callback
    from stellar_nbs.store import Store
    from stellar_nbs.train import train_run
    store = Store(store_dir)
    labels = pd.read_csv(Path(store_dir)/'labels.csv').set_index('dp_id').reindex(store.dp_ids)
    preset = RECIPES.get(recipe, recipe)
    csv = Path(out)/'learning_speed.csv'
    class Probe(Callback):
        order = 90
        def after_epoch(self):
            if (self.epoch + 1) % every and self.epoch + 1 != self.n_epoch: return
            r = probe_row(self.learn.model, store, labels, recipe, self.epoch + 1, (self.epoch + 1) * len(self.dls.train_rows) if hasattr(self.dls, 'train_rows') else None)
            pd.DataFrame([r]).to_csv(csv, mode='a', header=not csv.exists(), index=False)
            print(r, flush=True)
    train_run(store, Path(out)/f'run_{recipe}', config=preset, seed=seed, device='cpu', progress=False, resume=False, cbs=[Probe()])

def passes_to(df, col, level=1.0):
    hit = df[df[col] >= level]
    return int(hit.passes.iloc[0]) if len(hit) else None

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('out'); ap.add_argument('--n-targets', type=int, default=500)
    ap.add_argument('--grid', default='4000:6900:1.0'); ap.add_argument('--every', type=int, default=5)
    ap.add_argument('--recipes', nargs='+', default=['old', 'new']); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--parallel', action='store_true'); ap.add_argument('--_one', default=None)
    a = ap.parse_args(); out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    store_dir = out/'store'
    if a._one: train_one(a._one, store_dir, out, a.every, a.seed); sys.exit(0)
    if not (store_dir/'grid.json').exists():
        from stellar_nbs.archive import mock_archive
        from stellar_nbs.store import prepare
        from stellar_nbs.spectra import Grid
        g = Grid.parse(a.grid)
        mock_archive(out/'archive', n_targets=a.n_targets, seed=a.seed, grid=g, n_exposures_max=4, progress=False)
        prepare(out/'archive', store_dir, grid=g, labels=out/'archive'/'labels.csv', workers=1, progress=False)
    t0 = time.time()
    cmds = [[sys.executable, __file__, str(out), '--every', str(a.every), '--seed', str(a.seed), '--_one', r] for r in a.recipes]
    if a.parallel:
        ps = [subprocess.Popen(c) for c in cmds]; [p.wait() for p in ps]
    else:
        for c in cmds: subprocess.run(c, check=True)
    df = pd.read_csv(out/'learning_speed.csv')
    for r, d in df.groupby('recipe', sort=False):
        d = d.sort_values('passes')
        print(f"{r:>4s}: passes to RV >= 1 nat: {passes_to(d, 'radvel_mi')}, to Teff >= 1 nat: {passes_to(d, 'teff_mi')}; "
              f"final RV {d.radvel_mi.iloc[-1]:.2f} (node {d.radvel_node.iloc[-1]}), Teff {d.teff_mi.iloc[-1]:.2f}, "
              f"MAD {d.n_mad.iloc[-1]}, active {d.n_active.iloc[-1]}")
    print(f"wall {time.time() - t0:.0f} s")
