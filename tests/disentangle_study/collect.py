import json, glob, ast, re
from pathlib import Path
import pandas as pd
rows = [json.loads(l) for l in open('study.jsonl')][:1]     # old_cpu baseline row (evaluated separately)
for f in sorted(glob.glob('logs/*.log'), key=lambda f: Path(f).stat().st_mtime):
    lines = [l for l in open(f) if l.startswith('{')]
    if lines: rows.append(ast.literal_eval(re.sub(r'np\.float64\(([^)]*)\)', r'\1', lines[-1])))
df = pd.DataFrame(rows)
print(df[['name','passes','train_s','valid_l1','n_mad','n_active','rv_node','rv_mi','teff_node','teff_mi','rv_r2_all','shift_ratio']].to_string())
df.to_json('study_all.jsonl', orient='records', lines=True)
