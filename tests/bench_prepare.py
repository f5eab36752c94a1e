"""Benchmark `prepare --workers`: 1 against 2 (or more) worker processes on a mock archive of 1,000+ small-grid files
and on HARPS-size files (the real ADP replicated, tests/bench_store.replicate). Each run is its own subprocess; it
prints wall time, the CPU seconds of the parent and of its workers, the machine's load while it ran (other jobs'
runnable processes and the hypervisor's steal), and checks that the stores are identical to the 1-worker store.
No timed asserts: it prints what it measured.

    python tests/bench_prepare.py [n_targets] [n_harps_files] [workers ...]     (defaults: 240 targets ~ 1,276 files, 200, 2)

The result rows are appended to nbs/data/capacity_measured.csv as step `prepare_small` / `prepare_harps`."""
import json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path
for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ[v] = '1'
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'nbs'/'data'/'capacity_measured.csv'
SMALL = '5000:5500:1'

RUN = '''
import sys, time, resource, json
from stellar_nbs.store import prepare
t, c = time.perf_counter(), time.process_time()
st = prepare(sys.argv[1], sys.argv[2], grid=sys.argv[3], workers=int(sys.argv[4]), progress=False)
print(json.dumps(dict(seconds=time.perf_counter() - t, parent_cpu=time.process_time() - c, rows=len(st),
                      children_cpu=sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]),
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
'''

def cpu_times():
    "(busy, steal, total) jiffies of the whole machine from /proc/stat."
    v = [int(x) for x in open('/proc/stat').readline().split()[1:]]
    return sum(v) - v[3] - v[4] - v[7], v[7], sum(v)

def run(src, store, grid, workers):
    shutil.rmtree(store, ignore_errors=True)
    a = cpu_times()
    p = subprocess.run([sys.executable, '-c', RUN, str(src), str(store), grid, str(workers)], capture_output=True, text=True,
                       env={**os.environ, 'PYTHONPATH': str(ROOT)}, timeout=1200)
    b = cpu_times()
    if p.returncode: raise RuntimeError(p.stderr[-3000:])
    r = json.loads(p.stdout.strip().splitlines()[-1])
    busy, steal, total = (y - x for x, y in zip(a, b))
    ncpu = os.cpu_count()
    own = r['parent_cpu'] + r['children_cpu']
    r['other_load'] = max(busy / total * ncpu - own / r['seconds'], 0.)      # cores busy with other jobs, on average
    r['steal'] = steal / total
    return r

def same(a, b):
    from stellar_nbs.store import Store
    a, b = Store(a), Store(b)
    return a.flux.shape == b.flux.shape and np.asarray(a.flux).tobytes() == np.asarray(b.flux).tobytes() and a.catalog.equals(b.catalog)

def bench(step, src, grid, n_files, workers, tmp):
    rows, ref = [], None
    for w in (1, *workers):
        r = run(src, Path(tmp)/f'store{w}', grid, w)
        if w == 1: ref = r
        ok = same(Path(tmp)/'store1', Path(tmp)/f'store{w}')
        speed = ref['seconds'] / r['seconds']
        detail = (f"{w} worker(s): {n_files:,} files, {1e3 * r['seconds'] / n_files:.1f} ms/file wall, parent CPU {1e3 * r['parent_cpu'] / n_files:.1f} ms/file, "
                  f"workers CPU {1e3 * r['children_cpu'] / n_files:.1f} ms/file; {speed:.2f}x of 1 worker; "
                  f"other jobs {r['other_load']:.1f} cores, steal {100 * r['steal']:.0f}%; store identical to 1 worker: {ok}")
        print(f"{step:14s} {detail}", flush=True)
        if not ok: raise AssertionError(f"{step}: the {w}-worker store differs from the 1-worker store")
        rows.append(dict(step=f'{step}_{w}w', n=n_files, seconds=r['seconds'], peak_mb=r['peak_mb'], kind='measured', exponent=1.0, detail=detail,
                         rate_speedup=speed, rate_other_load=r['other_load']))
    return rows

def main(n_targets=240, n_harps=200, workers=(2,)):
    from stellar_nbs.archive import mock_archive
    sys.path.insert(0, str(ROOT/'tests')); from bench_store import replicate
    with tempfile.TemporaryDirectory(dir=os.environ.get('BENCH_TMP')) as tmp:
        mock_archive(Path(tmp)/'mock', n_targets=n_targets, grid=SMALL, progress=False)
        n_small = len(list((Path(tmp)/'mock').glob('*.fits')))
        (Path(tmp)/'harps').mkdir(); replicate(Path(tmp)/'harps', n_harps)
        for f in (Path(tmp)/'harps').iterdir(): f.resolve().read_bytes()            # warm page cache: the CPU cost, not the disk
        rows = bench('prepare_small', Path(tmp)/'mock', SMALL, n_small, workers, tmp)
        rows += bench('prepare_harps', Path(tmp)/'harps', 'harps', n_harps, workers, tmp)
    new = pd.DataFrame(rows)
    old = pd.read_csv(OUT) if OUT.exists() else pd.DataFrame()
    keep = old[~old.step.str.startswith('prepare_')] if len(old) else old
    pd.concat([keep, new], ignore_index=True).to_csv(OUT, index=False)
    print(f"wrote {OUT}")

if __name__ == '__main__':
    a = [int(x) for x in sys.argv[1:]]
    main(*(a[:2]), **({'workers': tuple(a[2:])} if a[2:] else {}))
