"One row of nbs/data/disentangle_study.csv from a `stellar-nbs demo` run folder: demo_row.py DEMO_OUT NAME 'configuration' [--chosen] >> rows"
import json, sys
from pathlib import Path
import pandas as pd
out, name, conf = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
run = out/'run'
rep, cfg = json.loads((run/'report.json').read_text()), json.loads((run/'config.json').read_text())
hist = pd.read_csv(run/'history.csv')
b, use = rep.get('best_node', {}), rep.get('decoder_use', {}).get('radvel', {})
dec = {d['label']: d for d in rep.get('decodability', [])}
row = dict(run=name, data=f"{cfg['grid']['step']:g} Å, {cfg['n_train'] + cfg['n_valid']} spectra", configuration=conf, seed=cfg['seed'],
           epochs=cfg['epochs'], spectrum_passes=cfg['epochs'] * cfg['n_train'], train_s=round(hist.seconds.sum()),
           valid_l1=round(hist.valid_recon.iloc[-1], 4), n_mad=rep['n_informative'], n_active=len(rep['active_units']),
           rv_node=b.get('radvel', {}).get('node'), rv_mi=b.get('radvel', {}).get('mi'), teff_node=b.get('teff', {}).get('node'),
           teff_mi=b.get('teff', {}).get('mi'), rv_r2_all_nodes=dec.get('radvel', {}).get('r2_all'),
           rv_decoded_shift_kms=use.get('shift'), rv_encoded_range_kms=use.get('label_range'), shift_ratio=use.get('ratio'),
           chosen='--chosen' in sys.argv)
print(pd.DataFrame([row]).to_csv(index=False, header=False, float_format='%.4g'), end='')
