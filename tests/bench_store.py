"""Benchmark `prepare` on the real HARPS files replicated to ~200 files, against a bare loop of
`astropy.io.fits.getdata` over the same files. Prints numbers measured in one run; asserts nothing.

    python tests/bench_store.py [n_files] [repeats]

Each variant runs in its own subprocess (so its peak RSS is its own); the page cache is warmed first, so this
measures CPU cost, not the disk. Output store: HARPS grid (327,680 px), float16."""
import json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from astropy.io import fits

ROOT = Path(__file__).resolve().parents[1]
HARPS = ROOT.parent/'shared'/'data'/'harps'

def replicate(dst:Path, n:int) -> list:
    "~n distinct 1-D files: the ADP copied with new ARCFILEs, the s1d files symlinked under new names."
    adp = HARPS/'ADP.2014-09-16T11:04:45.123.fits'
    s1d = sorted(HARPS.rglob('*_s1d_A.fits'))
    out, k = [], 0
    while len(out) < n:
        for src in [adp, *s1d]:
            if len(out) >= n: break
            if src == adp:
                p = dst/f'ADP.2014-09-16T11:04:{k % 60:02d}.{k:03d}.fits'
                with fits.open(src) as h:
                    h[0].header['ARCFILE'] = p.name
                    h.writeto(p)
            else:
                p = dst/src.name.replace('_s1d_A', f'_r{k:03d}_s1d_A'); p.symlink_to(src)
            out.append(p)
        k += 1
    return out

BARE = '''
import sys, time, resource, json
from pathlib import Path
from astropy.io import fits
files = sorted(Path(sys.argv[1]).glob('*.fits'))
touch = sys.argv[2] == 'touch'
t = time.perf_counter(); s = 0.
for f in files:
    d = fits.getdata(f)
    if touch: s += float((d['FLUX'][0] if d.dtype.names else d).sum())
dt = time.perf_counter() - t
print(json.dumps(dict(seconds=dt, rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, children_rss_mb=0)))
'''

PREP = '''
import sys, time, resource, json
from stellar_nbs.store import prepare
t = time.perf_counter()
st = prepare(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), progress=False)
dt = time.perf_counter() - t
print(json.dumps(dict(seconds=dt, n=len(st), rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      children_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)))
'''

STAGES = '''
import sys, time, json
from pathlib import Path
import numpy as np
from stellar_nbs.spectra import read_spectrum, Grid
from stellar_nbs.resample import to_grid
g = Grid.harps(); t = dict(read=0., grid=0., store=0.)
for f in sorted(Path(sys.argv[1]).glob('*.fits'))[:int(sys.argv[2])]:
    t0 = time.perf_counter(); s = read_spectrum(f); t1 = time.perf_counter(); gs = to_grid(s, g); t2 = time.perf_counter()
    x = np.where(gs.valid, gs.flux, np.nan).astype('float16'); t3 = time.perf_counter()
    t['read'] += t1 - t0; t['grid'] += t2 - t1; t['store'] += t3 - t2
print(json.dumps(t))
'''

def run(code, *args):
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    out = subprocess.run([sys.executable, '-c', code, *map(str, args)], capture_output=True, text=True, env=env)
    if out.returncode: raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])

def main(n=200, repeats=2):
    if not HARPS.exists(): sys.exit(f"real HARPS data not found at {HARPS}")
    tmp = Path(tempfile.mkdtemp())
    try:
        src = tmp/'src'; src.mkdir()
        files = replicate(src, n)
        mb = sum(f.stat().st_size for f in files) / 2**20
        print(f"{len(files)} files, {mb:.0f} MB of FITS (real ADP copies + s1d symlinks), {os.cpu_count()} CPUs; HARPS grid, float16")
        run(BARE, src, 'touch')                                    # warm the page cache
        best = {}                 # the machine is shared: interleave the variants and keep each one's fastest run
        for rep in range(repeats):
            for key, code, args in [('bare', BARE, (src, 'lazy')), ('touch', BARE, (src, 'touch')),
                                    ('p1', PREP, (src, tmp/f's1_{rep}', 1)), ('p2', PREP, (src, tmp/f's2_{rep}', 2))]:
                r = run(code, *args)
                if key not in best or r['seconds'] < best[key]['seconds']: best[key] = r
        bare, touch, p1, p2 = best['bare'], best['touch'], best['p1'], best['p2']
        stages = run(STAGES, src, 40)
        rate = lambda r: len(files) / r['seconds']
        print(f"best of {repeats} interleaved runs each")
        print(f"{'variant':44s} {'files/s':>8s} {'ratio':>7s} {'peak RSS MB (main / worker)':>28s}")
        for name, r in [('fits.getdata (lazy, as in a bare loop)', bare), ('fits.getdata + sum of flux (data touched)', touch),
                        ('prepare workers=1', p1), ('prepare workers=2', p2)]:
            print(f"{name:44s} {rate(r):8.1f} {rate(r) / rate(touch):7.3f} {r['rss_mb']:14.0f} / {r['children_rss_mb']:.0f}")
        print(f"ratio prepare(1 worker) / getdata lazy loop: {rate(p1) / rate(bare):.3f}")
        print(f"ratio prepare(1 worker) / getdata+touch loop: {rate(p1) / rate(touch):.3f}")
        print(f"speed-up with 2 workers: {p1['seconds'] / p2['seconds']:.2f}x")
        tot = sum(stages.values())
        print("time per file in one process (first 40 files): " + ', '.join(f"{k} {1e3 * v / 40:.1f} ms ({100 * v / tot:.0f}%)" for k, v in stages.items()))
        out = (tmp/'s1_0'/'flux.npy').stat().st_size / 2**20
        print(f"store: {p1['n']} rows, flux.npy {out:.0f} MB; identical with 1 and 2 workers: "
              f"{np.array_equal(np.load(tmp/'s1_0'/'flux.npy'), np.load(tmp/'s2_0'/'flux.npy'), equal_nan=True)}")
    finally: shutil.rmtree(tmp)

if __name__ == '__main__': main(*(int(a) for a in sys.argv[1:3]))
