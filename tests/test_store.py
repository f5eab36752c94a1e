"End-to-end checks of `stellar_nbs.store`: the real HARPS files, corrupt files, and resuming after SIGKILL."
import os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np, pandas as pd, pytest
from astropy.io import fits
from stellar_nbs.spectra import Grid, read_spectrum
from stellar_nbs.store import prepare, Store, read_journal, CATALOG_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
HARPS = ROOT.parent/'shared'/'data'/'harps'
GRID = Grid.parse('5000:5600:0.5')

def write_adp(path, seed=0, obj='STAR', flux_scale=1000., wave=None, flux=None, n_rows=1):
    "A tiny ADP-like file (primary header + one-row SPECTRUM table) on GRID's core lattice unless given arrays."
    rng = np.random.default_rng(seed)
    wave = GRID.wave[GRID.core] if wave is None else wave
    flux = (flux_scale * (1 + 0.1 * np.sin(wave / (3 + seed % 5))) + rng.normal(0, 5, len(wave))).astype(np.float32) if flux is None else flux
    cols = [fits.Column(name=k, format=f'{len(wave)}{f}', array=np.repeat(a[None], n_rows, 0))
            for k, f, a in (('WAVE', 'D', wave), ('FLUX', 'E', flux))]
    hdr = fits.Header(dict(OBJECT=obj, RA=10. + seed, DEC=-20., INSTRUME='HARPS', SNR=50., ARCFILE=f'ADP.2031-01-01T00:{seed // 60:02d}:{seed % 60:02d}.000.fits'))
    hdr['MJD-OBS'] = 60000. + seed
    fits.HDUList([fits.PrimaryHDU(header=hdr), fits.BinTableHDU.from_columns(cols, name='SPECTRUM')]).writeto(path, overwrite=True)
    return Path(path)

def store_equal(a:Store, b:Store):
    "Same array bytes and same catalog (sources aside when the stores were built from different folders)."
    assert a.flux.shape == b.flux.shape and a.flux.dtype == b.flux.dtype
    assert np.asarray(a.flux).tobytes() == np.asarray(b.flux).tobytes()
    pd.testing.assert_frame_equal(a.catalog, b.catalog)

# ---- real files ------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def real_store(tmp_path_factory):
    if not HARPS.exists(): pytest.skip(f"real HARPS data not found at {HARPS}")
    return prepare(HARPS, tmp_path_factory.mktemp('harps')/'store', workers=2, progress=False)

@pytest.mark.slow
def test_real_store_contents(real_store):
    st, cat = real_store, pd.read_csv(real_store.path/'catalog.csv', dtype=str, keep_default_na=False)
    assert list(cat.columns) == CATALOG_COLUMNS
    n_s1d = len(list(HARPS.rglob('*_s1d_A.fits')))
    assert len(st) == 1 + n_s1d == 15 and st.flux.shape == (15, 327_680) and st.flux.dtype == np.float16
    c = cat.set_index('dp_id')
    e2ds = c.loc['HARPS.2003-12-13T06:19:48.371_e2ds_A']
    assert e2ds.status == 'rejected' and e2ds.row == '' and e2ds.reason, e2ds
    for ccf in c.index[c.index.str.contains('_ccf_')]: assert c.loc[ccf, 'status'] == 'rejected' and c.loc[ccf, 'reason']
    assert c.loc['ADP.2014-09-16T11:04:45.123', 'method'] == 'exact'
    assert set(c[c.index.str.contains('_s1d_')].method) <= {'exact', 'snapped', 'resampled'}   # to_grid's call
    assert set(st.targets) == {'IC4651No9122', *set(c[c.index.str.contains('_s1d_')].object)}

@pytest.mark.slow
def test_real_adp_row_is_the_file_divided_by_its_median(real_store):
    "The ADP lands on the harps grid unchanged: stored row == float16(FLUX / median) pixel for pixel."
    st, g = real_store, real_store.grid
    row = int(st.accepted.set_index('dp_id').loc['ADP.2014-09-16T11:04:45.123', 'row'])
    with fits.open(HARPS/'ADP.2014-09-16T11:04:45.123.fits') as h:
        wave, flux = h[1].data['WAVE'][0].astype(float), h[1].data['FLUX'][0].astype(np.float32)
    idx = g.index(wave); inside = (idx >= 0) & (idx < g.length)
    np.testing.assert_allclose(g.wave[idx[inside]], wave[inside], atol=1e-6)      # the file is on the lattice
    stored = np.asarray(st.flux[row], dtype=np.float32)
    valid = ~np.isnan(stored)
    covered = np.zeros(g.length, bool); covered[idx[inside & np.isfinite(flux)]] = True
    assert (valid == (g.valid & covered)).all()
    expect = np.full(g.length, np.nan); expect[idx[inside]] = flux[inside] / st.accepted.median_flux[row]
    # float16 keeps 11 significant bits: |error| <= 2**-11 relative (plus the subnormal step near zero)
    assert (np.abs(stored[valid] - expect[valid]) <= 2**-11 * np.abs(expect[valid]) + 2**-24).all()
    # and the store holds exactly what to_grid produced, rounded once to float16
    from stellar_nbs.resample import to_grid
    gs = to_grid(read_spectrum(HARPS/'ADP.2014-09-16T11:04:45.123.fits'), g)
    assert np.array_equal(np.asarray(st.flux[row]), np.where(gs.valid, gs.flux, np.nan).astype(np.float16), equal_nan=True)
    assert abs(np.median(stored[valid]) - 1) < 1e-3

# ---- corrupt files -----------------------------------------------------------------------------------------
def test_corrupt_files_are_rejected_with_reasons_and_the_batch_goes_on(tmp_path):
    src = tmp_path/'src'; src.mkdir()
    good = write_adp(src/'good.fits', seed=1)
    full = write_adp(src/'truncated.fits', seed=2); full.write_bytes(full.read_bytes()[:4000])
    write_adp(src/'nan.fits', seed=3, flux=np.full(GRID.n_core, np.nan, np.float32))
    w = GRID.wave[GRID.core].copy(); w[[100, 101]] = w[[101, 100]]; write_adp(src/'non_monotonic.fits', seed=4, wave=w)
    write_adp(src/'empty.fits', seed=5, n_rows=0)
    write_adp(src/'faint.fits', seed=6, flux_scale=10.)
    (src/'notes.txt').write_text('ignored'); (src/'empty0.fits').write_bytes(b'')
    st = prepare(src, tmp_path/'store', grid=GRID, progress=False)
    cat = st.catalog.set_index(st.catalog.source.map(lambda s: Path(s).name))
    assert len(st) == 1 and cat.loc['good.fits', 'status'] == 'ok' and 'notes.txt' not in cat.index
    bad = cat.drop(index='good.fits')
    assert len(bad) == 6 and (bad.status == 'rejected').all() and (bad.reason.str.len() > 0).all(), bad[['status', 'reason']]
    assert bad.row.isna().all()
    np.testing.assert_array_equal(np.asarray(st.flux[0]).tobytes(), np.asarray(prepare([good], tmp_path/'one', grid=GRID, progress=False).flux[0]).tobytes())

# ---- resuming after SIGKILL --------------------------------------------------------------------------------
# The slowdown lives in a `sitecustomize` module on PYTHONPATH, so the spawned workers (which do not re-run the
# caller's script) are slowed down too.
SLOW_SITE = textwrap.dedent('''
    import time
    import stellar_nbs.store as S
    real = S.grid_file
    def slow(*a):
        time.sleep(0.1); return real(*a)
    S.grid_file = slow
''')
SLOW_PREPARE = textwrap.dedent('''
    import sys
    import stellar_nbs.store as S
    S.prepare(sys.argv[1], sys.argv[2], grid='5000:5600:0.5', progress=False, checkpoint_s=float(sys.argv[3]), workers=int(sys.argv[4]))
''')

@pytest.fixture(scope='module')
def archive(tmp_path_factory):
    src = tmp_path_factory.mktemp('archive')
    for i in range(40):
        (src/f'n{i % 3}').mkdir(exist_ok=True)
        write_adp(src/f'n{i % 3}'/f's{i:02d}.fits', seed=i, obj=f'STAR {i % 7}', flux_scale=10. if i % 9 == 4 else 1000.)
    write_adp(src/'n0'/'dup.fits', seed=5)                       # same dp_id as s05
    (src/'n1'/'bad.fits').write_bytes(b'not a FITS file at all')
    return src

@pytest.fixture(scope='module')
def reference(archive, tmp_path_factory):
    return prepare(archive, tmp_path_factory.mktemp('ref')/'store', grid=GRID, progress=False)

def test_reference_flags(reference):
    counts = reference.catalog.status.value_counts().to_dict()
    assert counts == {'ok': 36, 'rejected': 5, 'duplicate': 1}, counts

def test_workers_take_chunks_and_give_what_one_process_gives(archive, reference, tmp_path):
    "2 workers on chunks of 3 files (rejects and a duplicate among them): the same records, fluxes and hashes, in input order."
    from stellar_nbs.store import find_fits, _results
    paths = find_fits(archive)
    one = list(_results(paths, GRID, 50., 'float16', 1))
    two = list(_results(paths, GRID, 50., 'float16', 2, size=3))
    assert [r['source'] for r, _, _ in two] == [str(p) for p in paths]
    for (r1, f1, h1), (r2, f2, h2) in zip(one, two, strict=True):
        assert r1 == r2 and h1 == h2 and (f1 is None) == (f2 is None), (r1, r2)
        if f1 is not None: assert f1.tobytes() == f2.tobytes(), r1['source']
    store_equal(prepare(archive, tmp_path/'auto', grid=GRID, workers=None, progress=False), reference)   # auto: 1 process here

@pytest.mark.slow
@pytest.mark.parametrize('checkpoint_s,workers', [(0., 1), (0.1, 2)])
def test_killed_at_random_moments_then_resumed_equals_uninterrupted(archive, reference, tmp_path, checkpoint_s, workers):
    store, rng = tmp_path/'store', np.random.default_rng(int(checkpoint_s * 10) + workers)
    site = tmp_path/'site'; site.mkdir(); (site/'sitecustomize.py').write_text(SLOW_SITE)
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(site), str(ROOT), os.environ.get('PYTHONPATH', '')])}
    script = tmp_path/'slow_prepare.py'; script.write_text(SLOW_PREPARE)
    cmd = [sys.executable, str(script), str(archive), str(store), str(checkpoint_s), str(workers)]
    journaled, kills = [], 0
    for delay in rng.uniform(0, 0.5, 6):
        if (store/'flux.npy').exists() and not (store/'journal.jsonl').exists(): break     # finished before we killed it
        p = subprocess.Popen(cmd, env=env, start_new_session=True)
        t0, n0 = time.monotonic(), len(read_journal(store/'journal.jsonl'))
        # wait for the start-up (imports) and the first new checkpoint, then kill at a random moment of the work
        while p.poll() is None and len(read_journal(store/'journal.jsonl')) == n0 and time.monotonic() - t0 < 60: time.sleep(0.02)
        time.sleep(delay)
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL); kills += 1
        p.wait()
        if (store/'journal.jsonl').exists(): journaled.append(len(read_journal(store/'journal.jsonl')))
    assert kills >= 3, f"the prepare subprocess finished too fast to be killed ({kills} kills)"
    assert max(journaled) > 0 and (np.diff(journaled) >= 0).all(), journaled   # progress kept across kills
    store_equal(prepare(archive, store, grid=GRID, progress=False), reference)
    assert sorted(p.name for p in store.iterdir()) == ['catalog.csv', 'flux.npy', 'grid.json', 'metadata.csv', 'prepare.json']

def test_crash_before_each_atomic_rename_then_resumed_equals_uninterrupted(archive, reference, tmp_path, monkeypatch):
    "Die just before the n-th os.replace (prepare.json, grid.json, catalog.csv, flux.npy): the next run finishes the same store."
    real_replace = os.replace
    for n in range(1, 5):
        calls = []
        def dying_replace(a, b, n=n, calls=calls):
            calls.append(b)
            if len(calls) == n: raise OSError(f'simulated crash before replacing {b}')
            return real_replace(a, b)
        store = tmp_path/f'store{n}'
        monkeypatch.setattr(os, 'replace', dying_replace)
        with pytest.raises(OSError, match='simulated crash'): prepare(archive, store, grid=GRID, progress=False)
        monkeypatch.setattr(os, 'replace', real_replace)
        store_equal(prepare(archive, store, grid=GRID, progress=False), reference)
        assert sorted(p.name for p in store.iterdir()) == ['catalog.csv', 'flux.npy', 'grid.json', 'metadata.csv', 'prepare.json'], n

UNGUARDED = textwrap.dedent('''
    import sys
    from stellar_nbs.store import prepare
    print('top level ran', flush=True)
    st = prepare(sys.argv[1], sys.argv[2], grid='5000:5600:0.5', progress=False, workers=2)
    print('rows', len(st), flush=True)
''')

def test_script_without_main_guard_prepares_once(archive, reference, tmp_path):
    "Spawned workers must not re-run a user's script that calls `prepare` at top level."
    script = tmp_path/'unguarded.py'; script.write_text(UNGUARDED)
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    r = subprocess.run([sys.executable, str(script), str(archive), str(tmp_path/'store')], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count('top level ran') == 1 and 'rows 36' in r.stdout, r.stdout
    store_equal(Store(tmp_path/'store'), reference)
