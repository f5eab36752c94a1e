"""Fuzzing `prepare` with files a real archive holds: variants of the real ADP written with astropy (damaged, foreign,
early-DRS orders at 1e17-1e21, wrong units, unicode names, links), beside good files. Every catalogue row must have the
expected status and reason, and the good rows must be byte-identical to those of a run on the good files alone."""
import os, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest
from astropy.io import fits
from stellar_nbs.spectra import Grid, HARPS
from stellar_nbs.store import prepare, Store

HARPS_DATA = Path(__file__).resolve().parents[2]/'shared'/'data'/'harps'
ADP = HARPS_DATA/'ADP.2014-09-16T11:04:45.123.fits'
S1D = HARPS_DATA/'HARPS.2010-09-18T23:42:36.178_s1d_A.fits'
E2DS = HARPS_DATA/'HARPS.2003-12-13T06:19:48.371_e2ds_A.fits'
pytestmark = pytest.mark.skipif(not ADP.exists(), reason=f'real HARPS data not found at {HARPS_DATA}')


@pytest.fixture(scope='module')
def real():
    with fits.open(ADP) as h:
        return h[0].header.copy(), h[1].data['WAVE'][0].astype(np.float64), h[1].data['FLUX'][0].astype(np.float32), h[1].data['ERR'][0].astype(np.float32)

def write_like_adp(path, real, arcfile, wave=None, flux=None, unit='Angstrom', columns=('WAVE', 'FLUX', 'ERR'), n_rows=1):
    "The real ADP's layout (its primary header, a one-row SPECTRUM table) with other arrays and another ARCFILE."
    hdr, w0, f0, e0 = real
    wave, flux = (w0 if wave is None else wave), (f0 if flux is None else flux)
    arrays = dict(WAVE=(wave, 'D', unit), FLUX=(flux, 'E', 'adu'), ERR=(e0[:len(flux)], 'E', 'adu'))
    cols = [fits.Column(name=c, format=f'{len(arrays[c][0])}{arrays[c][1]}', unit=arrays[c][2], array=np.repeat(np.asarray(arrays[c][0])[None], n_rows, 0))
            for c in columns]
    h0 = hdr.copy(); h0['ARCFILE'] = f'{arcfile}.fits'
    fits.HDUList([fits.PrimaryHDU(header=h0), fits.BinTableHDU.from_columns(cols, name='SPECTRUM')]).writeto(path)
    return path

def corrupt_orders(flux, wave, starts, width_aa, rng):
    "Early-DRS damage: runs of `width_aa` Å starting at `starts` (Å) filled with +-1e17..1e21."
    out = flux.copy()
    for s, w in zip(starts, np.broadcast_to(width_aa, len(starts))):
        sel = (wave >= s) & (wave < s + w)
        out[sel] = rng.choice([-1, 1], sel.sum()) * 10 ** rng.uniform(17, 21, sel.sum())
    return out

# name -> (status, a piece of the reason); the good files are those with status 'ok' and no '*' in the key
EXPECTED = {
    'a_good/ADP.2014-09-16T11:04:45.123.fits': ('ok', ''),
    'a_good/s1d.fits': ('ok', ''),
    'a_good/wiggle.fits': ('ok', ''),
    'a_good/shifted.fits': ('ok', ''),
    'a_good/ünïcødé ☆ spectrum.fits': ('ok', ''),
    'bad/copy_of_adp.fits': ('duplicate', 'dp_id already stored in row'),
    'bad/empty.fits': ('rejected', 'unreadable FITS'),
    'bad/random bytes.fits': ('rejected', 'unreadable FITS'),
    'bad/truncated.fits': ('rejected', 'truncated file'),
    'bad/e2ds.fits': ('rejected', 'is 2-D'),
    'bad/two_rows.fits': ('rejected', 'holds 2 rows'),
    'bad/nan.fits': ('rejected', 'flux has no finite value'),
    'bad/zero.fits': ('rejected', 'median flux 0 <= 0'),
    'bad/negative.fits': ('rejected', '<= 0: cannot normalise'),
    'bad/no_flux_column.fits': ('rejected', 'no flux column'),
    'bad/zigzag.fits': ('rejected', 'wavelength not monotonic'),
    'bad/mismatched.fits': ('rejected', 'wavelengths for'),
    'bad/nm_as_angstrom.fits': ('rejected', 'these look like nm labelled as Å'),
    'bad/loglam.fits': ('rejected', 'these look like log10(wavelength) values'),
    'bad/elsewhere.fits': ('rejected', ': no overlap'),
    'bad/early_drs_mostly.fits': ('rejected', 'non-physical flux values'),
    'bad/dangling.fits': ('rejected', 'dangling symlink -> nowhere.fits'),
    '*early_drs_3runs.fits': ('ok', ''),
    '*early_drs_20pct.fits': ('ok', ''),
    '*shifted_1e15.fits': ('ok', ''),
    '*inf_pixels.fits': ('ok', ''),
    '*short.fits': ('ok', ''),
}

@pytest.fixture(scope='module')
def archives(real, tmp_path_factory):
    "(clean archive with the good files only, fuzz archive with the good files beside the bad ones)."
    root = tmp_path_factory.mktemp('fuzz')
    clean, fuzz = root/'clean', root/'fuzz'
    for d in (clean/'a_good', fuzz/'a_good', fuzz/'bad', fuzz/'masked'): d.mkdir(parents=True)
    hdr, wave, flux, err = real
    rng = np.random.default_rng(14)
    wiggle = (flux * (1 + 0.02 * np.sin(wave / 7))).astype(np.float32)
    for d in (clean, fuzz):
        shutil.copy(ADP, d/'a_good'/ADP.name); shutil.copy(S1D, d/'a_good'/'s1d.fits')
        write_like_adp(d/'a_good'/'wiggle.fits', real, 'ADP.2031-01-01T00:00:01.000', flux=wiggle)
        write_like_adp(d/'a_good'/'shifted.fits', real, 'ADP.2031-01-01T00:00:02.000', wave=wave + 0.0037)   # off the lattice: resampled
        write_like_adp(d/'a_good'/'ünïcødé ☆ spectrum.fits', real, 'ADP.2031-01-01T00:00:03.000', flux=flux[::-1].copy())
    bad = fuzz/'bad'
    shutil.copy(ADP, bad/'copy_of_adp.fits')
    (bad/'empty.fits').write_bytes(b'')
    (bad/'random bytes.fits').write_bytes(rng.bytes(100_000))
    (bad/'truncated.fits').write_bytes(ADP.read_bytes()[:3_000_000])
    shutil.copy(E2DS, bad/'e2ds.fits')
    write_like_adp(bad/'two_rows.fits', real, 'ADP.2031-01-01T00:01:00.000', n_rows=2)
    write_like_adp(bad/'nan.fits', real, 'ADP.2031-01-01T00:01:01.000', flux=np.full_like(flux, np.nan))
    write_like_adp(bad/'zero.fits', real, 'ADP.2031-01-01T00:01:02.000', flux=np.zeros_like(flux))
    write_like_adp(bad/'negative.fits', real, 'ADP.2031-01-01T00:01:03.000', flux=-flux)
    write_like_adp(bad/'no_flux_column.fits', real, 'ADP.2031-01-01T00:01:04.000', columns=('WAVE', 'ERR'))
    zig = wave.copy(); zig[5000:5010] = zig[5000:5010][::-1]
    write_like_adp(bad/'zigzag.fits', real, 'ADP.2031-01-01T00:01:05.000', wave=zig)
    write_like_adp(bad/'mismatched.fits', real, 'ADP.2031-01-01T00:01:06.000', wave=wave[:-100])
    write_like_adp(bad/'nm_as_angstrom.fits', real, 'ADP.2031-01-01T00:01:07.000', wave=wave / 10)
    write_like_adp(bad/'loglam.fits', real, 'ADP.2031-01-01T00:01:08.000', wave=np.log10(wave))
    write_like_adp(bad/'elsewhere.fits', real, 'ADP.2031-01-01T00:01:09.000', wave=wave + 20_000)
    n = len(wave)
    mostly = flux.copy(); mostly[: int(0.7 * n)] = corrupt_orders(flux, wave, [wave[0]], wave[int(0.7 * n)] - wave[0], rng)[: int(0.7 * n)]
    write_like_adp(bad/'early_drs_mostly.fits', real, 'ADP.2031-01-01T00:01:10.000', flux=mostly)
    os.symlink('nowhere.fits', bad/'dangling.fits')
    (bad/'notes.txt').write_text('not a FITS name: ignored')
    m = fuzz/'masked'
    write_like_adp(m/'early_drs_3runs.fits', real, 'ADP.2031-01-01T00:02:00.000',
                   flux=corrupt_orders(flux, wave, [4200., 5000., 6100.], 0.5, rng))
    starts = np.sort(rng.choice(np.arange(3800., 6880., 34.), 90, replace=False))     # 90 runs of 3-10 Å, ~20 % of the pixels
    write_like_adp(m/'early_drs_20pct.fits', real, 'ADP.2031-01-01T00:02:01.000',
                   flux=corrupt_orders(flux, wave, starts, rng.uniform(10, 35, 90) * 0.3, rng))
    spike = flux.copy(); spike[(wave > 5500) & (wave < 5510)] = 1e15
    write_like_adp(m/'shifted_1e15.fits', real, 'ADP.2031-01-01T00:02:02.000', wave=wave + 0.0037, flux=spike)
    inf = flux.copy(); inf[[1000, 2000, 3000]] = np.inf
    write_like_adp(m/'inf_pixels.fits', real, 'ADP.2031-01-01T00:02:03.000', flux=inf)
    part = (wave > 4000) & (wave < 4200)                                            # 6 % of the grid: kept, with a warning
    write_like_adp(m/'short.fits', real, 'ADP.2031-01-01T00:02:04.000', wave=wave[part], flux=flux[part])
    return clean, fuzz

@pytest.fixture(scope='module')
def stores(archives, tmp_path_factory):
    clean, fuzz = archives
    out = tmp_path_factory.mktemp('stores')
    return (prepare(clean, out/'clean', progress=False), prepare(fuzz, out/'fuzz', workers=2, progress=False), fuzz)

def _key(source, fuzz):
    rel = str(Path(source).relative_to(fuzz))
    return '*' + Path(rel).name if rel.startswith('masked/') else rel

def test_every_row_has_its_status_and_reason(stores):
    clean, st, fuzz = stores
    cat = st.catalog.assign(key=lambda c: [_key(s, fuzz) for s in c.source]).set_index('key')
    assert sorted(cat.index) == sorted(EXPECTED), sorted(set(cat.index) ^ set(EXPECTED))
    for key, (status, reason) in EXPECTED.items():
        row = cat.loc[key]
        assert row.status == status and reason in row.reason, (key, row.status, row.reason)
        assert '\n' not in row.reason and (status == 'ok') == (row.reason == ''), (key, row.reason)
    assert (clean.catalog.status == 'ok').all() and len(clean) == 5
    warned = cat.warning.fillna('')
    assert warned['*short.fits'].startswith("only 19,999 of the grid's 309,060 pixels") and (warned.drop('*short.fits') == '').all(), warned[warned != '']

def test_good_rows_are_byte_identical_to_a_clean_run(stores):
    clean, st, fuzz = stores
    fz = st.accepted.set_index('dp_id')
    for r in clean.accepted.itertuples():
        assert np.asarray(st.flux[int(fz.loc[r.dp_id, 'row'])]).tobytes() == np.asarray(clean.flux[r.row]).tobytes(), r.dp_id

def test_non_physical_values_are_masked_not_stored(stores):
    clean, st, fuzz = stores
    cat = st.catalog.assign(key=lambda c: [_key(s, fuzz) for s in c.source]).set_index('key')
    f16max = float(np.finfo(np.float16).max)
    for key in ('*early_drs_3runs.fits', '*early_drs_20pct.fits', '*shifted_1e15.fits', '*inf_pixels.fits'):
        row = np.asarray(st.flux[int(cat.loc[key, 'row'])], dtype=np.float32)
        assert np.nanmax(np.abs(row)) < 100 and not (np.abs(row) == f16max).any(), key
    assert cat.loc['*early_drs_3runs.fits', 'masked_runs'] == 3 and cat.loc['*early_drs_3runs.fits', 'n_masked'] > 0
    assert 60 <= cat.loc['*early_drs_20pct.fits', 'masked_runs'] <= 90
    assert 0.12 < cat.loc['*early_drs_20pct.fits', 'n_masked'] / len(real_wave(st)) < 0.28
    assert cat.loc['*inf_pixels.fits', 'masked_runs'] == 0       # inf is not a value: invalid, as NaN is, not screened
    # the masked ADP keeps the clean ADP's values away from its bad stretches
    adp = np.asarray(clean.flux[int(clean.accepted.set_index('dp_id').loc['ADP.2014-09-16T11:04:45.123', 'row'])], dtype=np.float32)
    three = np.asarray(st.flux[int(cat.loc['*early_drs_3runs.fits', 'row'])], dtype=np.float32)
    w = st.grid.wave
    away = np.isfinite(adp) & ~((w > 4199) & (w < 4201)) & ~((w > 4999) & (w < 5001)) & ~((w > 6099) & (w < 6101))
    np.testing.assert_allclose(three[away], adp[away], rtol=2e-3)
    assert np.isnan(three[(w > 4200.05) & (w < 4200.45)]).all()

def test_a_1e15_run_spoils_only_its_own_pixels(stores):
    "Resampled (off-lattice) with a 10 Å run at 1e15: away from the run the row equals the clean shifted file's."
    clean, st, fuzz = stores
    cat = st.catalog.assign(key=lambda c: [_key(s, fuzz) for s in c.source]).set_index('key')
    good = np.asarray(clean.flux[int(clean.accepted.set_index('dp_id').loc['ADP.2031-01-01T00:00:02.000', 'row'])], dtype=np.float32)
    spiky = np.asarray(st.flux[int(cat.loc['*shifted_1e15.fits', 'row'])], dtype=np.float32)
    w = st.grid.wave
    away = np.isfinite(good) & ((w < 5499) | (w > 5511))
    scale = (spiky[away] * good[away]).sum() / (good[away] ** 2).sum()      # masking 10 Å moves the median a little
    assert abs(scale - 1) < 0.01, scale
    np.testing.assert_allclose(spiky[away], scale * good[away], rtol=2e-3, atol=2e-3)   # float16 round-off
    assert np.isnan(spiky[(w > 5500.1) & (w < 5509.9)]).all()

def real_wave(st):
    with fits.open(ADP) as h: return h[1].data['WAVE'][0]

def test_rerun_reads_nothing_again_but_a_mended_file(stores, real, tmp_path):
    "A second prepare does no work; a rejected file that is mended is read again and accepted."
    clean, st, fuzz = stores
    before, rows = (st.path/'catalog.csv').read_text(), np.asarray(st.flux).tobytes()
    again = prepare(fuzz, st.path, workers=1, progress=False)
    assert (st.path/'catalog.csv').read_text() == before and len(again) == len(st)
    (fuzz/'bad'/'truncated.fits').unlink()
    write_like_adp(fuzz/'bad'/'truncated.fits', real, 'ADP.2031-01-01T00:03:00.000', flux=(real[2] * 1.5 + 100).astype(np.float32))
    mended = prepare(fuzz, st.path, workers=1, progress=False)
    row = mended.catalog.set_index(mended.catalog.source.map(lambda s: _key(s, fuzz))).loc['bad/truncated.fits']
    assert row.status == 'ok' and len(mended) == len(st) + 1
    assert np.asarray(mended.flux[: len(st)]).tobytes() == rows
