"python study.py NAME STORE '{json overrides}' : train one configuration, evaluate, append a row to study.csv"
import json, sys, time, os
os.environ.setdefault('MPLBACKEND', 'Agg')
from pathlib import Path
import torch; torch.set_num_threads(1)
import pandas as pd
sys.path.insert(0, str(Path(__file__).parent))
from levers import Capacity, Smoothing, DopplerAugment, GroupKL, ShiftEquivariance
from evalrun import evaluate
from stellar_nbs.train import train_run
from stellar_nbs.store import Store

name, store, over = sys.argv[1], sys.argv[2], json.loads(sys.argv[3] if len(sys.argv) > 3 else '{}')
seed = over.pop('seed', 0)
run = Path('STUDY/runs')/f'{name}_s{seed}'
cbs = []
if 'capacity' in over: cbs.append(Capacity(**over.pop('capacity')))
if over.pop('group', False): cbs.append(GroupKL())
if 'equi' in over:
    st = Store(store); cbs.append(ShiftEquivariance(st.grid.wave, **over.pop('equi')))
if 'smooth' in over: cbs.append(Smoothing(**over.pop('smooth')))
if 'doppler' in over:
    st = Store(store); cbs.append(DopplerAugment(st.grid.wave, **over.pop('doppler')))
t0 = time.time()
train_run(store, run, seed=seed, cbs=cbs, progress=False, resume=False, device='cpu', **over)
wall = time.time() - t0
row = evaluate(run, store, name, dict(config=sys.argv[3] if len(sys.argv) > 3 else '{}', wall_s=round(wall)))
print(row, flush=True)
with open('STUDY/study.jsonl', 'a') as f: f.write(json.dumps({k: (v.item() if hasattr(v, 'item') else v) for k, v in row.items()}) + '\n')
