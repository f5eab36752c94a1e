"""Benchmark: read_spectrum (+ to_grid) per real HARPS file against a bare `astropy.io.fits.getdata`.

Run: python tests/bench_spectra.py [repeats]. Measurements are interleaved (file by file, method by method) and the
median over repeats is reported, so load from other processes hits every method alike. Prints ms per file and ratios.
"""
import sys, time
from pathlib import Path
import numpy as np
from astropy.io import fits
from stellar_nbs.spectra import Grid, read_spectrum
from stellar_nbs.resample import to_grid

DATA = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'harps'

def files():
    fs = [DATA/'ADP.2014-09-16T11:04:45.123.fits', DATA/'HARPS.2010-09-18T23:42:36.178_s1d_A.fits']
    return fs + sorted((DATA/'alpha_cen_b').glob('*.fits'))

def bare_getdata(f):
    "What any reader must at least do: open, parse the headers, read the data (default options)."
    d = fits.getdata(f)
    return np.asarray(d['FLUX'][0]) if d.dtype.names else d

def timed(fn, f):
    t = time.perf_counter(); fn(f); return time.perf_counter() - t

def main(repeats=5):
    fs = files()
    if not fs[0].exists(): sys.exit(f"real files not found in {DATA}")
    harps, demo = Grid.harps(), Grid.parse('4000:6900:0.2')
    cases = {
        'fits.getdata': bare_getdata,
        'fits.getdata(memmap=False)': lambda f: fits.getdata(f, memmap=False),
        'read_spectrum(fast=False) (astropy)': lambda f: read_spectrum(f, fast=False),
        'read_spectrum': read_spectrum,
        'read_spectrum + to_grid(harps)': lambda f: to_grid(read_spectrum(f), harps),
        'read_spectrum + to_grid(4000:6900:0.2)': lambda f: to_grid(read_spectrum(f), demo),
    }
    for fn in cases.values(): fn(fs[0])  # warm imports and caches
    times = {k: [] for k in cases}
    for _ in range(repeats):
        for f in fs:
            for k, fn in cases.items(): times[k].append(timed(fn, f))
    ms = {k: 1e3 * np.median(v) for k, v in times.items()}
    base = ms['fits.getdata']
    print(f"{len(fs)} real HARPS files (1 ADP, 14 s1d), {repeats} repeats, median ms per file")
    for k, v in ms.items(): print(f"  {k:40s} {v:7.1f} ms   ratio to fits.getdata {v / base:5.2f}")
    sp = read_spectrum(fs[1])
    for name, g in (('harps', harps), ('4000:6900:0.2', demo)):
        t = [timed(lambda s: to_grid(s, g), sp) for _ in range(repeats)]
        print(f"  to_grid alone on {name:14s} ({to_grid(sp, g).method}) {1e3 * np.median(t):7.1f} ms")
    print(f"  files/s one core, read_spectrum + to_grid(harps): {1e3 / ms['read_spectrum + to_grid(harps)']:.1f}"
          f"  (bare getdata: {1e3 / base:.1f})")

if __name__ == '__main__': main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
