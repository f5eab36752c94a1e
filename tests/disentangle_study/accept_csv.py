import json, sys, re
from pathlib import Path
sys.path.insert(0, '/work/main/tests')
from bench_disentangle import criteria
import pandas as pd
rows = []
for d in sorted(Path('/work/accept').glob('seed*/run/report.json')):
    seed = int(d.parts[-3][4:]); c = criteria(json.loads(d.read_text()))
    log = (d.parents[2]/f'seed{seed}.log').read_text(errors='ignore')
    m = re.findall(r'\[\s*(\d+) s\] done', log)
    rows.append(dict(seed=seed, rv_node=c['rv_node'], rv_mi=c['rv_mi'], teff_node=c['teff_node'], teff_mi=c['teff_mi'], n_mad=c['n_mad'],
                     n_active=c['n_active'], rv_decoded_shift_kms=c['shift'], rv_encoded_range_kms=c['rv_range'], shift_ratio=c['ratio'],
                     demo_wall_s=int(m[-1]) if m else None, **{f'pass_{k}': v for k, v in c['pass'].items()}))
df = pd.DataFrame(rows); df.to_csv(sys.argv[1], index=False, float_format='%.4g'); print(df.to_string())
