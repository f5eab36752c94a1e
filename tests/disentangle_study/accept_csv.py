"nbs/data/acceptance.csv from the run folders of tests/bench_disentangle.py: accept_csv.py ACCEPT_DIR OUT.csv"
import json, sys, re
from pathlib import Path
import pandas as pd
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_disentangle import criteria, rv_calibration

def explain_columns(run, c):
    "Issue 16, item 5 on the trained model, from RUN/explain.json (bench_disentangle --explain): RV node km/s per unit, Teff node's lines."
    p = run/'explain.json'
    if not p.exists() or c['rv_node'] is None: return {}
    ex = json.loads(p.read_text())['node']
    out = {}
    e = ex.get(str(c['rv_node']))
    if e: out.update(rv_calibration(run, c['rv_node'], e['doppler']))
    e = ex.get(str(c['teff_node']))
    if e: out['teff_node_lines'] = ', '.join(f"{l['species']} {l['wave']:.0f}" for l in e['lines']['lines'] if l.get('species'))[:80]
    return out

rows = []
acc = Path(sys.argv[1])
for d in sorted(acc.glob('seed*/run/report.json')):
    seed = int(d.parts[-3][4:]); c = criteria(json.loads(d.read_text()))
    log = (acc/f'seed{seed}.log').read_text(errors='ignore')
    m = re.findall(r'\[\s*(\d+) s\] done', log)
    rows.append(dict(seed=seed, rv_node=c['rv_node'], rv_mi=c['rv_mi'], teff_node=c['teff_node'], teff_mi=c['teff_mi'], n_mad=c['n_mad'],
                     n_active=c['n_active'], rv_decoded_shift_kms=c['shift'], rv_encoded_range_kms=c['rv_range'], shift_ratio=c['ratio'],
                     demo_wall_s=int(m[-1]) if m else None, **{f'pass_{k}': v for k, v in c['pass'].items()}, **explain_columns(d.parent, c)))
df = pd.DataFrame(rows); df.to_csv(sys.argv[2], index=False, float_format='%.4g'); print(df.to_string())
