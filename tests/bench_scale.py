"""Capacity benchmark: time and peak memory of each step after training at 2.7k, 27k and 270k spectra (where it fits),
the fitted scaling exponent, and the projection to the full HARPS archive (270k spectra of 327,680 px).
Every measurement runs in its own process on ONE core (peak memory = that process's peak RSS); the results are
printed and written to nbs/data/capacity_measured.csv, which nbs/12_capacity.ipynb turns into the capacity table.
Run:  python tests/bench_scale.py [step ...]     steps: analyse anomalies_latent spectra retrieve encode loader explain neighbours
      (no step: all of them; ~30 min on one core). No timed asserts: it prints what it measured."""
import os, sys, json, time, resource, subprocess, tempfile
from pathlib import Path
for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ[v] = '1'
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'nbs'/'data'/'capacity_measured.csv'
ARCHIVE = 270_000
SIZES = {'analyse': (2_700, 27_000, 270_000), 'anomalies_latent': (2_700, 27_000, 270_000), 'retrieve': (2_700, 27_000, 270_000),
         'spectra': (32, 128), 'encode': (8, 32), 'loader': (4_000,), 'explain': (2_700, 27_000, 270_000), 'neighbours': (2_700, 27_000, 270_000)}

def synthetic_run(d, n, n_latent=128, seed=0):
    "A run folder with mu-only latents (20 nodes mixing 8 labels, the rest collapsed), its index, and labels.csv (n/41.5 stars)."
    from stellar_nbs.mutual_info import LABELS
    rng = np.random.default_rng(seed); n_stars = max(int(round(n / 41.5)), 10)
    stars = pd.DataFrame({'teff': rng.uniform(3500, 7000, n_stars), 'logg': rng.uniform(3.5, 5, n_stars),
                          'm_h': rng.normal(0, .3, n_stars), 'vsini': rng.exponential(3, n_stars), 'radvel': rng.normal(0, 30, n_stars)})
    stars['mass'] = (stars.teff / 5800)**1.6 * rng.normal(1, .05, n_stars)
    t = rng.integers(0, n_stars, n)
    lab = stars.iloc[t].reset_index(drop=True)
    lab['airmass'] = 1 / np.cos(np.radians(rng.uniform(0, 60, n))); lab['snr'] = rng.lognormal(4, .5, n)
    lab.insert(0, 'target', [f'S{i}' for i in t])
    mu = rng.normal(0, .003, (n, n_latent)).astype(np.float32)
    std = ((lab[LABELS] - lab[LABELS].mean()) / lab[LABELS].std()).to_numpy()
    for j in range(20): mu[:, j] = 0.3 * np.tanh(std @ rng.normal(0, .7, len(LABELS))) + .05 * rng.normal(size=n)
    d = Path(d); d.mkdir(parents=True, exist_ok=True)
    np.save(d/'latents.npy', mu)
    ids = np.array([f'ADP.2031-01-01T00:00:{i:09d}' for i in range(n)])
    pd.DataFrame({'row': np.arange(n), 'dp_id': ids}).to_csv(d/'latents_index.csv', index=False)
    lab.insert(0, 'dp_id', ids); lab.to_csv(d/'labels.csv', index=False)
    return d, lab

def harps_batch(n, seed=0):
    "n synthetic spectra on the full HARPS grid (lines, noise, NaN outside the valid pixels) and near-perfect reconstructions."
    from stellar_nbs.spectra import HARPS
    rng = np.random.default_rng(seed); w = HARPS.wave
    flux = (1 - 0.5 * np.exp(-0.5 * ((w[None] % 7 - 3.5) / 0.05)**2) + rng.normal(0, 0.01, (n, len(w)))).astype(np.float32)
    flux[:, ~HARPS.valid] = np.nan
    return HARPS, flux, flux + rng.normal(0, 0.01, flux.shape).astype(np.float32)

# ---- one measurement per process: returns a dict of what it timed (seconds) ------------------------------------
def m_analyse(n, tmp):
    from stellar_nbs.report import analyse_run
    d, _ = synthetic_run(Path(tmp)/'run', n)
    t0 = time.perf_counter(); rep = analyse_run(d, labels=d/'labels.csv', n_workers=1); t = time.perf_counter() - t0
    return dict(seconds=t, detail=f"{rep['n_informative']} informative, MI on {rep['subsample']['mi_rows']:,} rows, "
                                  f"count bootstrap on {rep['subsample']['boot_rows']:,}-row resamples")

def m_anomalies_latent(n, tmp):
    from stellar_nbs.anomalies import isolation_scores, neighbour_reference
    _, lab = synthetic_run(Path(tmp)/'run', n); mu = np.load(Path(tmp)/'run'/'latents.npy'); nodes = np.arange(20)
    t0 = time.perf_counter(); isolation_scores(mu, nodes); t_if = time.perf_counter() - t0
    t0 = time.perf_counter(); neighbour_reference(mu, nodes, groups=lab.target); t_nb = time.perf_counter() - t0
    return dict(seconds=t_if + t_nb, detail=f"isolation forest {t_if:.1f} s + neighbour reference (20 nodes, exact search, 30 per row) {t_nb:.1f} s")

def m_neighbours(n, tmp, n_nodes=8):
    "neighbour_reference over `n_nodes` informative nodes (k-d tree, algorithm='auto'); at <= 27k also brute force, for the ratio (same rows)."
    from stellar_nbs.anomalies import neighbour_reference
    _, lab = synthetic_run(Path(tmp)/'run', n); mu = np.load(Path(tmp)/'run'/'latents.npy'); nodes = np.arange(n_nodes)
    t0 = time.perf_counter(); tree = neighbour_reference(mu, nodes, groups=lab.target); t = time.perf_counter() - t0
    detail = f"{n_nodes} nodes, k-d tree {t:.1f} s"
    if n <= 27_000:
        t0 = time.perf_counter(); brute = neighbour_reference(mu, nodes, groups=lab.target, algorithm='brute'); tb = time.perf_counter() - t0
        detail += f"; brute force {tb:.1f} s ({tb / t:.1f}x the tree), same neighbours: {bool((brute == tree).all())}"
    return dict(seconds=t, detail=detail)

def m_spectra(n, tmp, device=None):
    from stellar_nbs.anomalies import residual_stats, companion_stats
    g, flux, recon = harps_batch(n); valid = np.isfinite(flux)
    t0 = time.perf_counter()
    for i in range(0, n, 32): residual_stats(flux[i:i+32], recon[i:i+32], valid[i:i+32], 5., 100, 1000, device=device)
    t_res = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(0, n, 32): companion_stats(g.wave, flux[i:i+32], recon[i:i+32], valid[i:i+32], device=device)
    t_ccf = time.perf_counter() - t0
    return dict(seconds=t_res + t_ccf, detail=f"residual statistics {1e3 * t_res / n:.0f} ms + companion CCF {1e3 * t_ccf / n:.0f} ms per spectrum")

def m_retrieve(n, tmp):
    from stellar_nbs.explore import LatentIndex
    d, _ = synthetic_run(Path(tmp)/'run', n); (d/'labels.csv').unlink()          # a run folder with latents only
    (d/'report.json').write_text(json.dumps({'informative_nodes': list(range(20))}))
    t0 = time.perf_counter(); ix = LatentIndex.build(d); t_build = time.perf_counter() - t0
    ids = pd.read_csv(d/'latents_index.csv').dp_id.to_numpy()[np.random.default_rng(1).integers(0, n, 100)]
    t0 = time.perf_counter()
    for q in ids: ix.query(q, k=10)
    t_q = (time.perf_counter() - t0) / len(ids)
    return dict(seconds=t_build + 100 * t_q, detail=f"build {t_build:.2f} s; dp_id query {1e3 * t_q:.1f} ms (100 queries)")

def synthetic_store(d, lab, px=512, metadata=True, seed=0):
    """A finished store folder for the rows of `lab` (synthetic_run's labels) on a `px`-pixel grid: flux.npy, catalog.csv, grid.json,
    labels.csv and, with `metadata`, metadata.csv; the catalogue's source files do not exist (their headers cannot be read)."""
    from stellar_nbs.spectra import Grid
    from stellar_nbs.store import CATALOG_COLUMNS, METADATA_COLUMNS
    rng, n, d = np.random.default_rng(seed), len(lab), Path(d)
    d.mkdir(parents=True, exist_ok=True)
    g = Grid(5000., 5000. + (px - 1) * 1., 1.); (d/'grid.json').write_text(json.dumps(g.to_dict()))
    f = np.lib.format.open_memmap(d/'flux.npy', 'w+', np.float16, (n, px)); f[:] = 1; f.flush(); del f
    mjd = 53000 + np.sort(rng.uniform(0, 6000, n))
    cat = pd.DataFrame({'source': [f'/nonexistent/{i}.fits' for i in lab.dp_id], 'dp_id': lab.dp_id, 'object': lab.target, 'ra': rng.uniform(0, 360, n),
                        'dec': rng.uniform(-90, 20, n), 'mjd': mjd, 'snr': lab.snr, 'airmass': lab.airmass, 'berv': rng.normal(0, 20, n),
                        'exptime': rng.uniform(60, 900, n), 'spec_res': 115000., 'instrument': 'HARPS', 'median_flux': 1000., 'mean_flux': 1000.,
                        'n_valid': px, 'method': 'exact', 'status': 'ok', 'reason': '', 'row': np.arange(n), 'n_masked': 0, 'masked_runs': 0,
                        'warning': '', 'file_stamp': '', 'flux_hash': ''}, columns=CATALOG_COLUMNS)
    cat.to_csv(d/'catalog.csv', index=False)
    if metadata:
        meta = pd.DataFrame({'dp_id': lab.dp_id, 'row': np.arange(n), **{c: rng.normal(size=n) for c in METADATA_COLUMNS}})
        meta['mjd'], meta['airmass'], meta['snr'] = mjd, lab.airmass, lab.snr
        for c, levels in (('drs_version', ['3.5', '3.8']), ('programme', [f'P{i}' for i in range(30)]), ('ins_mode', ['HAM', 'EGGS']),
                          ('dpr_type', ['STAR,WAVE,THAR']), ('instrument', ['HARPS'])): meta[c] = rng.choice(levels, n)
        meta.to_csv(d/'metadata.csv', index=False)
    lab.drop(columns=['target']).assign(row=np.arange(n)).to_csv(d/'labels.csv', index=False)
    return d

def m_explain(n, tmp, max_rows=20_000):
    "explain's table steps as explain_run runs them: observing metadata (metadata.csv + catalogue), labels, MI of the nodes with both."
    from stellar_nbs.metadata import observing_metadata, column_mi
    from stellar_nbs.report import run_labels
    from stellar_nbs.store import Store
    d, lab = synthetic_run(Path(tmp)/'run', n)
    st = Store(synthetic_store(Path(tmp)/'store', lab))
    mu, index = np.load(d/'latents.npy'), pd.read_csv(d/'latents_index.csv', dtype={'dp_id': str})
    nodes = list(range(20))
    t0 = time.perf_counter(); frame, _ = observing_metadata(index, st); labels = run_labels(d, index, st); t_meta = time.perf_counter() - t0
    sub = np.sort(np.random.default_rng(0).choice(n, max_rows, replace=False)) if n > max_rows else np.arange(n)
    groups = frame['target'].to_numpy()[sub]
    t0 = time.perf_counter()
    mt = column_mi(mu[sub], frame.iloc[sub].reset_index(drop=True), nodes, groups)
    lt = column_mi(mu[sub], labels.drop(columns=['dp_id'], errors='ignore').iloc[sub].reset_index(drop=True), nodes, groups)
    t_mi = time.perf_counter() - t0
    return dict(seconds=t_meta + t_mi, detail=f"metadata + labels {t_meta:.1f} s; column MI {t_mi:.1f} s ({len(mt) + len(lt)} node-column pairs on "
                                             f"{len(sub):,} rows, {mt.column.nunique()} metadata + {lt.column.nunique()} label columns)")

def m_encode(n, tmp):
    import torch
    from stellar_nbs.model import SpectrumVAE
    torch.set_num_threads(1)
    m = SpectrumVAE().eval(); x = torch.zeros(n, 1, 327680)
    with torch.no_grad():
        m.encode(x[:2])
        t0 = time.perf_counter()
        for i in range(0, n, 8): m.encode(x[i:i+8])
    t = time.perf_counter() - t0
    return dict(seconds=t, detail=f"paper model, {n / t:.1f} spectra/s on one CPU core")

def m_loader(n, tmp):
    "spectra/s from a float16 full-grid store on disk: cold and warm page cache, 0/1/2 workers, pinned memory."
    import torch
    from stellar_nbs.data import RowReader, StoreDL
    torch.set_num_threads(1)
    d = Path(tmp)/'store'; d.mkdir()
    f = np.lib.format.open_memmap(d/'flux.npy', 'w+', np.float16, (n, 327680))
    rng = np.random.default_rng(0)
    for i in range(0, n, 256): f[i:i+256] = (1 + 0.01 * rng.standard_normal((min(256, n - i), 327680))).astype(np.float16)
    f.flush(); del f
    out, detail = {}, []
    for workers in (0, 1, 2):
        for cache in ('cold', 'warm'):
            if cache == 'cold':
                fd = os.open(d/'flux.npy', os.O_RDONLY)        # drop the file's pages: the next pass reads the disk
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
            dl = StoreDL(np.arange(n), reader=RowReader(d), bs=32, shuffle=True, num_workers=workers, pin_memory=False, drop_last=True)
            t0 = time.perf_counter(); seen = sum(len(b[0]) for b in dl); t = time.perf_counter() - t0
            out[f'{cache}_{workers}'] = seen / t; detail.append(f"{cache} {workers}w {seen / t:.0f}/s")
    flux, rng = np.load(d/'flux.npy', mmap_mode='r'), np.random.default_rng(1)
    for how, read in (('memmap_index', lambda r: np.array(flux[np.sort(r)])), ('preadv', RowReader(d).read)):
        read(rng.integers(0, n, 32)); t0 = time.perf_counter()
        for _ in range(n // 32): read(rng.integers(0, n, 32))
        out[f'{how}_warm_read'] = 32 * (n // 32) / (time.perf_counter() - t0); detail.append(f"{how} read only {out[f'{how}_warm_read']:.0f}/s")
    class RawDL(StoreDL):                                # the CPU side of a GPU node's loader: rows read, cast left to the GPU
        def after_batch(self, b): return b
    for workers in (0, 2):                               # the GPU pipeline: raw float16 rows, converted on the device
        for name, cls in (('raw16_cpu_cast', StoreDL), ('raw16_no_cast', RawDL)):
            dl = cls(np.arange(n), reader=RowReader(d), bs=32, shuffle=True, num_workers=workers, drop_last=True, convert_on_device=True)
            t0 = time.perf_counter(); seen = sum(len(b[0]) for b in dl); t = time.perf_counter() - t0
            out[f'{name}_warm_{workers}'] = seen / t; detail.append(f"{name} warm {workers}w {seen / t:.0f}/s")
    return dict(seconds=n / out['warm_0'], detail='; '.join(detail), rates=out)

STEPS = {'analyse': m_analyse, 'anomalies_latent': m_anomalies_latent, 'spectra': m_spectra, 'retrieve': m_retrieve,
         'encode': m_encode, 'loader': m_loader, 'explain': m_explain, 'neighbours': m_neighbours}

def one(step, n):
    "Run one measurement in this process; print a JSON line with its result and this process's peak RSS."
    import torch; torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(dir=os.environ.get('BENCH_TMP')) as tmp: r = STEPS[step](n, tmp)
    r.update(step=step, n=n, peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print('RESULT ' + json.dumps(r), flush=True)

LIMIT_S = 600          # a measurement that runs longer is stopped; the 270k row is then projected from the smaller sizes

def measure(step, n):
    try: p = subprocess.run([sys.executable, __file__, '--one', step, str(n)], capture_output=True, text=True,
                            env={**os.environ, 'MPLBACKEND': 'Agg'}, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        print(f"{step:17s} n={n:>8,}  stopped after {LIMIT_S} s (over this machine's budget): projected instead", flush=True)
        return None
    line = [l for l in p.stdout.splitlines() if l.startswith('RESULT ')]
    if not line: raise RuntimeError(f"{step} at {n}: no result\n{p.stderr[-3000:]}")
    return json.loads(line[-1][7:])

def exponent(rows):
    "Least-squares slope of log(seconds) against log(n) over the measured sizes."
    n, t = np.log([r['n'] for r in rows]), np.log([r['seconds'] for r in rows])
    return float(np.polyfit(n, t, 1)[0]) if len(rows) > 1 else 1.0

def main(steps):
    old = pd.read_csv(OUT) if OUT.exists() else pd.DataFrame()
    rows = []
    for step in steps:
        got = []
        for n in SIZES[step]:
            r = measure(step, n)
            if r is None: break
            got.append(r)
            print(f"{step:17s} n={n:>8,}  {r['seconds']:8.2f} s  peak {r['peak_mb']:7.0f} MB  ({r['detail']})", flush=True)
        b = exponent(got) if step not in ('spectra', 'encode', 'loader') else 1.0       # per-spectrum steps: linear by construction
        big = got[-1]; proj = big['seconds'] * (ARCHIVE / big['n']) ** b
        print(f"{step:17s} exponent {b:.2f}  ->  {ARCHIVE:,} spectra: {proj:,.0f} s ({'measured' if big['n'] == ARCHIVE else 'projection'})", flush=True)
        for r in got: rows.append(dict(step=step, n=r['n'], seconds=r['seconds'], peak_mb=r['peak_mb'], exponent=b, kind='measured', detail=r['detail'],
                                       **{f'rate_{k}': v for k, v in r.get('rates', {}).items()}))
        if big['n'] != ARCHIVE: rows.append(dict(step=step, n=ARCHIVE, seconds=proj, peak_mb=np.nan, exponent=b, kind='projection',
                                                 detail=f"from n={big['n']:,} with exponent {b:.2f}"))
        new = pd.DataFrame(rows)                                         # written after every step: a stopped run keeps what it has
        keep = old[~old.step.isin(new.step.unique())] if len(old) else old
        pd.concat([keep, new], ignore_index=True).to_csv(OUT, index=False)
    print(f"wrote {OUT}")

if __name__ == '__main__':
    if sys.argv[1:2] == ['--one']: one(sys.argv[2], int(sys.argv[3]))
    else: main(sys.argv[1:] or list(STEPS))
