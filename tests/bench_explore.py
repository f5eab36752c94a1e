"""Retrieval speed: 10 nearest neighbours among 270k synthetic latent vectors (128-d, 6 informative nodes).
Run: python tests/bench_explore.py   (prints numbers; no timed asserts)."""
import time, tempfile
import numpy as np
from stellar_nbs.explore import LatentIndex

def synthetic_latents(n=270_000, n_latent=128, n_informative=6, seed=0):
    "Collapsed nodes ~N(0, 0.005); informative nodes a mixture of clusters with different widths."
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 0.005, (n, n_latent)).astype(np.float32)
    centres = rng.normal(0, 2, (40, n_informative))
    z[:, :n_informative] = centres[rng.integers(0, 40, n)] + rng.normal(0, 0.5, (n, n_informative))
    return z

def main(n=270_000, k=10, n_queries=1000):
    z = synthetic_latents(n)
    dp_ids = np.array([f'ADP.2031-01-01T00:00:{i:09d}' for i in range(n)])
    t0 = time.perf_counter(); ix = LatentIndex(z, nodes=range(6), dp_ids=dp_ids); t_build = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    q = z[rng.integers(0, n, n_queries)] + rng.normal(0, 0.05, (n_queries, z.shape[1])).astype(np.float32)
    t0 = time.perf_counter()
    for v in q[:200]: ix.query(v, k=k)
    t_single = (time.perf_counter() - t0) / 200
    t0 = time.perf_counter(); ix.query(dp_ids[123], k=k); t_dpid_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for d in dp_ids[rng.integers(0, n, 200)]: ix.query(d, k=k)
    t_dpid = (time.perf_counter() - t0) / 200
    pts = ((q[:200, :6] - ix.centre) / ix.scale).astype(np.float32)
    t0 = time.perf_counter()
    for p in pts: ix.nn.kneighbors(p[None], n_neighbors=k)
    t_tree = (time.perf_counter() - t0) / 200
    t0 = time.perf_counter(); ix.query_many(q, k=k); t_batch = (time.perf_counter() - t0) / n_queries
    # exact? compare with brute force for a few queries
    x = ix.points.astype(np.float64)
    ok = 0
    for v in q[:20]:
        p = (v[:6] - ix.centre) / ix.scale
        ok += set(np.argsort(((x - p)**2).sum(1))[:k]) == set(ix.query(v, k=k).row)
    t0 = time.perf_counter()
    for v in q[:20]: p = (v[:6] - ix.centre) / ix.scale; np.argpartition(((x - p)**2).sum(1), k)[:k]
    t_brute = (time.perf_counter() - t0) / 20
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter(); ix.save(d); t_save = time.perf_counter() - t0
        t0 = time.perf_counter(); LatentIndex.load(d); t_load = time.perf_counter() - t0
    print(f'{n:,} latent vectors, {len(ix.nodes)} indexed nodes, k={k}')
    print(f'build (standardise + k-d tree): {t_build:.3f} s')
    print(f'query by vector -> DataFrame:   {t_single*1e3:.3f} ms per query (200 queries)')
    print(f'query by dp_id -> DataFrame:    {t_dpid*1e3:.3f} ms per query (first one {t_dpid_first*1e3:.0f} ms: builds the dp_id lookup)')
    print(f'batch query_many (arrays):      {t_batch*1e6:.1f} us per query ({n_queries} queries)')
    print(f'k-d tree search alone, single:  {t_tree*1e3:.3f} ms per query')
    print(f'brute-force numpy, single:      {t_brute*1e3:.3f} ms per query  (tree {t_brute/t_tree:.0f}x faster)')
    print(f'exact vs brute force:           {ok}/20 identical neighbour sets')
    print(f'save / load (npz+json, tree rebuilt): {t_save:.3f} s / {t_load:.3f} s')

if __name__ == '__main__': main()
