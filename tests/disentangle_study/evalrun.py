"Evaluate a trained run: MAD count, active units, best RV/Teff node + MI, decoder use of the RV node (CCF shift)."
import json, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from stellar_nbs.ccf import C_KMS
from stellar_nbs.train import encode_store
from stellar_nbs.run import Run
from stellar_nbs.spectra import Grid
from stellar_nbs.report import analyse_run, run_labels
from stellar_nbs.informative import informative_nodes, active_units

def evaluate(run, store, name='', extra=None):
    run = Path(run); t0 = time.time()
    cfg = json.loads((run/'config.json').read_text())
    hist = pd.read_csv(run/'history.csv')
    mu = encode_store(store, run, device='cpu', progress=False)
    mu, logvar, index = Run(run).latents()
    rep = analyse_run(run, store=store, figures=False, n_workers=1, n_boot=50)
    b = rep.get('best_node', {})
    row = dict(name=name, seed=cfg['seed'], epochs=cfg['epochs'], n_train=cfg['n_train'],
               passes=cfg['epochs'] * cfg['n_train'], train_s=round(hist.seconds.sum()), valid_l1=round(hist.valid_recon.iloc[-1], 4),
               n_mad=rep['n_informative'], n_active=len(rep['active_units']), active=rep['active_units'],
               rv_node=b.get('radvel', {}).get('node'), rv_mi=b.get('radvel', {}).get('mi'),
               teff_node=b.get('teff', {}).get('node'), teff_mi=b.get('teff', {}).get('mi'))
    dec = {d['label']: d for d in rep.get('decodability', [])}
    row['rv_r2_all'] = dec.get('radvel', {}).get('r2_all')
    if row['rv_node'] is not None:
        model = Run(run).model(); grid = Grid.from_dict(cfg['grid']) if hasattr(Grid, 'from_dict') else Grid(**cfg['grid'])
        wave = grid.wave; sl = grid.core
        lab = run_labels(run, index, store)
        k = int(row['rv_node']); rv = lab['radvel'].to_numpy(float); ok = np.isfinite(rv)
        slope = np.polyfit(mu[ok, k], rv[ok], 1)[0]
        lo, hi = np.quantile(mu[:, k], (0.02, 0.98))
        row['rv_range_encoded'] = round(float(abs(slope) * (hi - lo)), 2)
        from stellar_nbs.explore import decoded_shift as ds
        row['rv_decoded_shift'] = round(abs(ds(run, k)['shift']), 2)
        row['shift_ratio'] = round(row['rv_decoded_shift'] / max(1e-9, row['rv_range_encoded']), 3)
        row['rv_r'] = round(float(np.corrcoef(mu[ok, k], rv[ok])[0, 1]), 3)
    row.update(extra or {})
    row['eval_s'] = round(time.time() - t0)
    return row

if __name__ == '__main__':
    print(evaluate(sys.argv[1], sys.argv[2]))
