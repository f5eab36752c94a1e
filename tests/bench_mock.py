"""Benchmark the mock archive: spectra per second per core at full HARPS resolution and on the demo grid.

Run: python tests/bench_mock.py   (single process; CPU time is reported next to wall time because the
machine may be shared; spectra/s per core = spectra / CPU seconds of this one process)."""
import os, sys, time, tempfile
from pathlib import Path
os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from stellar_nbs.spectra import Grid, Spectrum
from stellar_nbs.mock import Exposure, Spectrograph, stellar_lines
from stellar_nbs.archive import mock_archive, write_adp

def clock(f, n=1):
    w, c = time.perf_counter(), time.process_time()
    for _ in range(n): r = f()
    return (time.perf_counter() - w) / n, (time.process_time() - c) / n, r

def bench(grid, n_targets, label):
    stellar_lines()
    _, c_sp, sp = clock(lambda: Spectrograph(grid))
    _, c_star, star = clock(lambda: sp.star(5500., 4.4, 0., 3.), 3)
    rng = np.random.default_rng(0)
    _, c_exp, (f, e) = clock(lambda: sp.expose([(star, 12.3, 5500., 1.)], Exposure(80., 1.3, 3., 10., 0.02, 0.01), rng), 5)
    with tempfile.TemporaryDirectory() as d:
        _, c_w, _ = clock(lambda: write_adp(Path(d)/'x.fits', Spectrum(sp.wave, f, e, dict(object='HD 1', ra=10., dec=-20., mjd=55000., snr=80., airmass=1.3, berv=10.))), 5)
        w_arc, c_arc, truth = clock(lambda: mock_archive(Path(d)/'arc', n_targets=n_targets, seed=1, grid=grid, progress=False))
    n = len(truth)
    print(f"\n== {label}: {len(sp.wave):,} px, synthesis lattice {sp.lat.n:,} px at {sp.lat.dv} km/s")
    print(f"spectrograph setup {c_sp*1e3:7.1f} ms CPU (once per archive)")
    print(f"star synthesis     {c_star*1e3:7.1f} ms CPU per target")
    print(f"one exposure       {c_exp*1e3:7.1f} ms CPU  -> {1/c_exp:6.1f} spectra/s per core (synthesis only, star reused)")
    print(f"write ADP FITS     {c_w*1e3:7.1f} ms CPU")
    print(f"mock_archive       {n} spectra of {n_targets} targets: {c_arc:6.1f} s CPU, {w_arc:6.1f} s wall"
          f" -> {n/c_arc:6.1f} spectra/s per core end to end (files written), {n/w_arc:6.1f} spectra/s wall")
    return n / c_arc

if __name__ == '__main__':
    full = bench(Grid.harps(), 6, 'full HARPS grid (3785-6910 A at 0.01 A)')
    demo = bench(Grid.parse('4000:6900:0.2'), 60, 'demo grid (4000-6900 A at 0.2 A)')
    print(f"\ngoal >= 20 spectra/s per core at full resolution: {'met' if full >= 20 else 'NOT met'} ({full:.1f});"
          f" demo grid is {demo/full:.1f}x faster per spectrum")
