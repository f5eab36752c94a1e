"""Benchmark the DataLoaders on a float16 store at the paper's 327,680 px. Prints spectra/s measured in one run
(asserts nothing), against a bare baseline: reading the same random rows from the memmap with NumPy.

    python tests/bench_data.py [n_rows]

The store is synthetic (random flux, NaN in pads and gap, 60 stars with unequal numbers of spectra). 'warm'
means the store file is in the page cache (it fits in RAM here); 'cold' evicts it first with
posix_fadvise(DONTNEED) on this file only, so reads hit the disk."""
import os, shutil, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from stellar_nbs.spectra import Grid
from stellar_nbs.store import Store
from stellar_nbs.data import store_dataloaders, iter_store

def synthetic_store(path:Path, n:int, grid=None, n_stars=60, seed=0) -> Store:
    grid = grid or Grid.harps()
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    flux = np.lib.format.open_memmap(path/'flux.npy', mode='w+', dtype='float16', shape=(n, grid.length))
    valid = grid.valid
    for i in range(0, n, 64):
        block = (1 + 0.05 * rng.standard_normal((min(64, n - i), grid.length))).astype('float16')
        block[:, ~valid] = np.nan; flux[i:i + 64] = block
    flux.flush(); del flux
    stars = rng.choice(n_stars, n, p=(w := 1 / np.arange(1, n_stars + 1)) / w.sum())    # a few stars with many spectra
    pd.DataFrame(dict(source=[f's{i}.fits' for i in range(n)], dp_id=[f'ADP.{i:06d}' for i in range(n)], object=[f'HD {s}' for s in stars],
                      status='ok', reason='', row=np.arange(n))).to_csv(path/'catalog.csv', index=False)
    grid.save(path/'grid.json')
    return Store(path)

def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally: os.close(fd)

def timed(f, n_spectra):
    t = time.perf_counter(); f(); return n_spectra / (time.perf_counter() - t)

def main(n=512, bs=32):
    tmp = Path(tempfile.mkdtemp())
    try:
        st = synthetic_store(tmp/'store', n)
        size = (st.path/'flux.npy').stat().st_size / 2**20
        dls = store_dataloaders(st, bs=bs, valid_pct=0.1, device='cpu')
        n_train = len(dls.train) * bs
        rng = np.random.default_rng(0)
        batches = [np.sort(rng.choice(dls.train_rows, bs)) for _ in range(len(dls.train))]
        def numpy_baseline():
            for b in batches: x = np.asarray(st.flux[b]).astype(np.float32)
        def epoch(dl):
            for b in dl: pass
        def sequential(): 
            for b in iter_store(st, bs=bs): pass
        print(f"store {n} x {st.grid.length} float16 ({size:.0f} MB), bs={bs}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
        print(f"{'reader':52s} {'warm sp/s':>10s} {'cold sp/s':>10s} {'warm ratio':>11s}")
        rows = [('numpy: memmap[sorted random rows] -> float32 (baseline)', numpy_baseline, n_train),
                ('StoreDL train epoch, balanced, num_workers=0', lambda: epoch(dls.train), n_train),
                ('StoreDL train epoch, balanced, num_workers=2', lambda: epoch(store_dataloaders(st, bs=bs, num_workers=2, device='cpu').train), n_train),
                ('StoreDL train, num_workers=2, float16 to main proc', lambda: epoch(store_dataloaders(st, bs=bs, num_workers=2, device='cpu', convert_on_device=True).train), n_train),
                ('StoreDL train, num_workers=0, convert_on_device', lambda: epoch(store_dataloaders(st, bs=bs, device='cpu', convert_on_device=True).train), n_train),
                ('StoreDL valid epoch (sequential)', lambda: epoch(dls.valid), len(dls.valid_rows)),
                ('iter_store (sequential slices, prefetch thread)', sequential, n)]
        base = None
        for name, f, k in rows:
            f()                                                    # warm-up (and page cache)
            warm = max(timed(f, k) for _ in range(2))
            evict(st.path/'flux.npy'); cold = timed(f, k)
            base = base or warm
            print(f"{name:52s} {warm:10.0f} {cold:10.0f} {warm / base:11.2f}")
        x, y, v = dls.one_batch()
        print(f"batch: flux {tuple(x.shape)} {x.dtype}, valid {tuple(v.shape)} {v.dtype}; "
              f"{bs * st.grid.length * 2 / 2**20:.0f} MB of float16 read per batch")
    finally: shutil.rmtree(tmp)

if __name__ == '__main__': main(*(int(a) for a in sys.argv[1:2]))
