"""Acceptance of the disentangled-bottleneck recipe (issue: an RV node, a Teff node and a handful of informative nodes).

Runs `stellar-nbs demo OUT --seed S` for each seed (one after the other, or `--parallel 2` on two cores) and prints,
per seed, the criteria in the demo summary's style:
- best RV node and best Teff node are different nodes, both informative (MAD > 0.02), each with KSG MI >= 1.0 nats;
- the MAD > 0.02 count is between 2 and 12 and the active-unit count is within +-2 of it;
- the decoder uses the RV node: sweeping it over its 2-98 % range shifts decoded lines (relative_shift of the frames)
  by at least half the RV range it encodes.
With `--explain` it also runs `explain.explain_run` on the RV and Teff nodes and prints whether the RV node acts as a
shift of the km/s per unit its label slope says (within 30 %) and which lines the Teff node moves (issue 16, item 5).
Usage: python tests/bench_disentangle.py OUT [--seeds 0 1 2] [--parallel 1] [--extra "--n-targets 500"] [--explain]
A benchmark, not a test: it takes ~10 minutes per seed on one core.
"""
import argparse, json, subprocess, sys, time, shlex
from pathlib import Path

def criteria(rep:dict) -> dict:
    "The acceptance numbers of one demo report."
    b = rep.get('best_node', {}); rv, te = b.get('radvel'), b.get('teff')
    inf, act = set(rep['informative_nodes']), rep['active_units']
    use = rep.get('decoder_use', {}).get('radvel', {})
    out = dict(rv_node=rv and rv['node'], rv_mi=rv and rv['mi'], teff_node=te and te['node'], teff_mi=te and te['mi'],
               n_mad=rep['n_informative'], n_active=len(act), shift=use.get('shift'), rv_range=use.get('label_range'),
               ratio=use.get('ratio'))
    out['pass'] = dict(
        distinct_informative=bool(rv and te and rv['node'] != te['node'] and rv['node'] in inf and te['node'] in inf),
        mi=bool(rv and te and rv['mi'] >= 1.0 and te['mi'] >= 1.0),
        counts=bool(2 <= rep['n_informative'] <= 12 and abs(len(act) - rep['n_informative']) <= 2),
        decoder_uses_rv=bool(use and use.get('ratio', 0) >= 0.5))
    return out

def line(seed, c, wall):
    f = lambda v, fmt: '-' if v is None else format(v, fmt)
    return (f"seed {seed}: RV node {c['rv_node']} MI {f(c['rv_mi'], '.2f')} | Teff node {c['teff_node']} MI {f(c['teff_mi'], '.2f')} | "
            f"MAD>0.02 {c['n_mad']}, active {c['n_active']} | RV sweep moves lines {f(c['shift'], '.1f')} km/s of "
            f"{f(c['rv_range'], '.1f')} encoded (ratio {f(c['ratio'], '.2f')}) | {wall:.0f} s | "
            + ' '.join(f"{k}={'ok' if v else 'FAIL'}" for k, v in c['pass'].items()))

def rv_calibration(run, node:int, doppler:dict) -> dict:
    "Explain's shift of RV node `node` (`doppler` of explain.json) against the RV per unit of the node from the labels."
    import numpy as np
    from stellar_nbs.run import Run
    from stellar_nbs.report import run_labels
    mu, _, index = Run(run).latents(); y = run_labels(run, index)['radvel'].to_numpy(float); ok = np.isfinite(y)
    slope = float(np.polyfit(mu[ok, node], y[ok], 1)[0])
    return dict(rv_shift_corr=doppler['corr'], rv_kms_per_unit=doppler['kms_per_unit'], rv_label_slope=slope,
                rv_per_unit_ratio=doppler['kms_per_unit'] / slope if slope else float('nan'))

def explained(run, rep:dict) -> str:
    "Issue 16, item 5 on a trained model: is the RV node shift-like with the km/s per unit its label slope says (within 30 %)?"
    from stellar_nbs.explain import explain_run
    b = rep.get('best_node', {}); nodes = [b[l]['node'] for l in ('radvel', 'teff') if l in b]
    if not nodes: return 'explain: no RV/Teff node'
    res = explain_run(run, nodes=sorted(set(nodes)), figures=False)
    out = []
    if 'radvel' in b:
        k = b['radvel']['node']; c = rv_calibration(run, k, res['node'][str(k)]['doppler']); r = c['rv_per_unit_ratio']
        out.append(f"RV node {k}: shift-likeness {c['rv_shift_corr']:.2f}, {c['rv_kms_per_unit']:.1f} km/s per unit vs label slope "
                   f"{c['rv_label_slope']:.1f} (ratio {r:.2f}: {'ok' if abs(r - 1) <= 0.3 and abs(c['rv_shift_corr']) >= 0.5 else 'FAIL'})")
    if 'teff' in b:
        k = b['teff']['node']; e = res['node'][str(k)]
        named = [f"{l['species']} {l['wave']:.0f}" for l in e['lines']['lines'] if l.get('species')][:6]
        out.append(f"Teff node {k}: lines {', '.join(named) or '-'}; {e['summary'][:2]}")
    return ' | '.join(out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('out'); ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--parallel', type=int, default=1); ap.add_argument('--extra', default='')
    ap.add_argument('--explain', action='store_true', help='also explain the RV and Teff nodes (issue 16, item 5)')
    a = ap.parse_args(); out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    todo, running, done = list(a.seeds), {}, {}
    while todo or running:
        while todo and len(running) < a.parallel:
            s = todo.pop(0); log = open(out/f'seed{s}.log', 'w')
            cmd = ['stellar-nbs', 'demo', str(out/f'seed{s}'), '--seed', str(s)] + shlex.split(a.extra)
            running[s] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), time.time())
        for s, (p, t0) in list(running.items()):
            if p.poll() is not None:
                del running[s]; done[s] = time.time() - t0
                if p.returncode: print(f"seed {s}: demo failed (rc {p.returncode}), see {out/f'seed{s}.log'}", flush=True); continue
                rep = json.loads((out/f'seed{s}'/'run'/'report.json').read_text())
                print(line(s, criteria(rep), done[s]), flush=True)
                if a.explain: print(f'seed {s}: ' + explained(out/f'seed{s}'/'run', rep), flush=True)
        time.sleep(2)
