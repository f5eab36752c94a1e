"""Benchmark: the full MI table (128 nodes x 8 labels, KSG with errors and permutation nulls) for 7,000 spectra.
Run: python tests/bench_mutual_info.py   (prints times measured in this one run; no asserts)."""
import os, time
import numpy as np, pandas as pd
from stellar_nbs.informative import mock_latents, informative_nodes
from stellar_nbs.mutual_info import mi_table, mi_ksg, ksg_error, permutation_null, LABELS

def bench_latents(n=7000, n_extra=14, seed=0):
    "mock_latents plus `n_extra` informative nodes that mix the labels, as a trained model would."
    mu, logvar, lab, truth = mock_latents(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    std = ((lab[LABELS] - lab[LABELS].mean()) / lab[LABELS].std()).fillna(0).values
    for j in range(100, 100 + n_extra):
        mu[:, j] = 0.2 * np.tanh(std @ rng.normal(0, 0.7, len(LABELS))) + 0.05 * rng.normal(size=n)
    return mu, lab

if __name__ == '__main__':
    print(f"cores visible: {os.cpu_count()}, affinity: {len(os.sched_getaffinity(0))}")
    mu, lab = bench_latents()
    print(f"latents {mu.shape}, informative (MAD>0.02): {len(informative_nodes(mu))}")
    t0 = time.perf_counter(); table = mi_table(mu, lab, method='ksg', n_workers=2); t_table = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time(); mi_table(mu, lab, method='ksg', n_workers=0)
    t_serial, c_serial = time.perf_counter() - t0, time.process_time() - c0
    print(f"mi_table ksg serial: {t_serial:.1f} s wall, {c_serial:.1f} s CPU (load: {os.getloadavg()[0]:.1f})")
    full = table[table.stage == 'full']
    print(f"mi_table ksg, 2 workers: {t_table:.1f} s wall for {len(table)} pairs ({len(full)} full KSG with error + null, "
          f"{len(table) - len(full)} screened out); significant: {int(table.significant.sum())}")
    x, y = mu[:, 3].astype(float), lab.teff.values
    t0 = time.perf_counter(); [mi_ksg(x, y) for _ in range(10)]; t_ksg = (time.perf_counter() - t0) / 10
    t0 = time.perf_counter(); ksg_error(x, y, repeats=1); t_err = time.perf_counter() - t0
    t0 = time.perf_counter(); permutation_null(x, y, n_perm=8, groups=lab.target.values); t_null = time.perf_counter() - t0
    naive = len(table) * (t_ksg + t_err + t_null)
    print(f"one KSG estimate: {1e3 * t_ksg:.1f} ms, its subsampling error: {1e3 * t_err:.1f} ms, per-node null (8 perms): {1e3 * t_null:.0f} ms")
    print(f"unscreened table would take ~{naive:.0f} s: screening speed-up x{naive / t_table:.1f}")
    print(full.sort_values('z', ascending=False).head(12)[['node', 'label', 'mi', 'err', 'null_mean', 'null_std', 'z']].round(3).to_string())
