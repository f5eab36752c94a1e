"Longer checks of stellar_nbs.spectra: every real HARPS file, damaged files, property tests of to_grid."
import pickle
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import assume, given, settings, strategies as st, HealthCheck

from stellar_nbs.spectra import (Grid, Spectrum, read_spectrum, META_KEYS, fast_arrays,
                                 SpectrumError, NotOneDimensionalError, EmptySpectrumError, MissingFluxError,
                                 WavelengthError, AllNaNError)
from stellar_nbs.resample import GriddedSpectrum, to_grid, rebin, pixel_edges

DATA = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'harps'
ADP = DATA/'ADP.2014-09-16T11:04:45.123.fits'
GL581 = DATA/'HARPS.2010-09-18T23:42:36.178_s1d_A.fits'
E2DS = DATA/'HARPS.2003-12-13T06:19:48.371_e2ds_A.fits'
ALPHA_CEN_B = sorted((DATA/'alpha_cen_b').glob('*.fits'))
HARPS = Grid.harps()
DEMO = Grid.parse('4000:6900:0.2')
needs_data = pytest.mark.skipif(not ADP.exists(), reason=f"real HARPS files not found in {DATA}")

# ---------------------------------------------------------------- real files

@needs_data
def test_adp_lands_on_harps_grid_unchanged():
    sp = read_spectrum(ADP)
    gs = to_grid(sp, HARPS)
    assert gs.method == 'exact' and not gs.degenerate and gs.reason == ''
    k = HARPS.index(sp.wave)
    inside = (k >= HARPS.core.start) & (k < HARPS.core.stop)
    assert inside.sum() == HARPS.n_core                      # the ADP covers the whole core
    np.testing.assert_array_equal(HARPS.wave[k[inside]], HARPS.wave[HARPS.core])
    assert np.abs(sp.wave[inside] - HARPS.wave[HARPS.core]).max() < 1e-8
    raw = sp.flux[inside].astype(np.float64)
    on = gs.valid[HARPS.core]
    np.testing.assert_array_equal(on, HARPS.valid[HARPS.core])   # ADP has no NaN: valid = grid.valid
    np.testing.assert_array_equal(gs.flux[HARPS.core][on], (raw[on] / gs.median).astype(np.float32))
    assert gs.median == np.median(raw[on])
    # flux ratios between pixels are those of the file
    i, j = np.flatnonzero(on)[[1000, 200_000]]
    assert abs(gs.flux[HARPS.core][i] / gs.flux[HARPS.core][j] - raw[i] / raw[j]) < 1e-6 * abs(raw[i] / raw[j])
    assert np.isnan(gs.flux[~gs.valid]).all()
    assert gs.flux.dtype == np.float32 and gs.flux.shape == (327_680,)


@needs_data
def test_adp_metadata():
    m = read_spectrum(ADP).meta
    assert set(m) == set(META_KEYS)
    assert m['object'] == 'IC4651No9122' and m['dp_id'] == 'ADP.2014-09-16T11:04:45.123'
    assert m['snr'] == 23.35 and m['spec_res'] == 115000. and m['instrument'] == 'HARPS'
    assert m['airmass'] == pytest.approx(1.077) and m['berv'] == pytest.approx(-8.69, abs=0.01)
    assert m['mjd'] == pytest.approx(53921.1615749) and m['exptime'] == pytest.approx(302.5016)


@needs_data
def test_gl581_s1d():
    sp = read_spectrum(GL581)
    m = sp.meta
    assert (m['object'], m['snr'], m['instrument']) == ('Gl581', 40.9, 'HARPS')
    assert m['berv'] == pytest.approx(-23.54, abs=0.01) and m['airmass'] == pytest.approx(1.691)
    assert m['dp_id'] == 'HARPS.2010-09-18T23:42:36.178_s1d_A' and m['ra'] == pytest.approx(229.863516)
    assert len(sp) == 313_114 and sp.wave[0] == pytest.approx(3781.19) and np.diff(sp.wave).mean() == pytest.approx(0.01)
    gs = to_grid(sp, HARPS)
    assert gs.method == 'exact'          # 3781.19 is 381 steps of 0.01 Å below 3785: same lattice
    forced = to_grid(sp, HARPS, method='resampled')
    np.testing.assert_array_equal(forced.valid, gs.valid)
    np.testing.assert_allclose(forced.flux[gs.valid], gs.flux[gs.valid], rtol=1e-5, atol=1e-6)
    demo = to_grid(sp, DEMO)
    assert demo.method == 'resampled' and demo.valid.sum() == DEMO.valid.sum() and not demo.degenerate


@needs_data
def test_e2ds_and_ccf_refused():
    with pytest.raises(NotOneDimensionalError, match=r'e2ds_A\.fits: 72 x 4096 image is 2-D'):
        read_spectrum(E2DS)
    with pytest.raises(NotOneDimensionalError, match='not a 1-D spectrum'):
        read_spectrum(DATA/'HARPS.2010-09-18T23:42:36.178_ccf_M2_A.fits')


@needs_data
@pytest.mark.slow
def test_all_alpha_cen_b():
    assert len(ALPHA_CEN_B) == 13
    fluxes, bervs = [], []
    for path in ALPHA_CEN_B:
        sp = read_spectrum(path)
        m = sp.meta
        h = fits.getheader(path)
        assert m['object'] == 'HD128621' and m['snr'] == h['HIERARCH ESO DRS SPE EXT SN50'] and 150 < m['snr'] < 450
        assert m['berv'] == h['HIERARCH ESO DRS BERV'] and m['airmass'] == h['HIERARCH ESO TEL AIRM START']
        assert m['dp_id'] == path.name[:-5] and m['instrument'] == 'HARPS'
        assert sp.wave[0] == pytest.approx(h['CRVAL1'], abs=1e-9) and len(sp) == h['NAXIS1']
        assert 3781.4 < sp.wave[0] < 3781.8 and abs(len(sp) - 313_150) < 20
        gs = to_grid(sp, HARPS)
        assert gs.method == 'exact' and not gs.degenerate
        assert np.median(gs.flux[gs.valid]) == pytest.approx(1.0, abs=1e-6)
        gd = to_grid(sp, DEMO)
        assert gd.method == 'resampled' and gd.valid.sum() == DEMO.valid.sum()
        fluxes.append(gd.flux[DEMO.valid]); bervs.append(m['berv'])
    assert np.ptp(bervs) > 5                                     # different nights, different BERV
    # one star: once each night's continuum (blaze, throughput: the s1d is not flux-calibrated) is divided out,
    # the barycentric line patterns agree
    from scipy.ndimage import median_filter
    lines = np.array([f / median_filter(f, 101) for f in fluxes])
    assert np.corrcoef(lines).min() > 0.97

def _same(a, b):
    np.testing.assert_array_equal(a.wave, b.wave); np.testing.assert_array_equal(a.flux, b.flux)
    assert a.meta == b.meta and a.path == b.path and (a.err is None) == (b.err is None)
    if a.err is not None: np.testing.assert_array_equal(a.err, b.err)


@needs_data
def test_fast_path_reads_what_astropy_reads():
    for path in [ADP, GL581] + ALPHA_CEN_B:
        assert fast_arrays(path) is not None, path
        _same(read_spectrum(path), read_spectrum(path, fast=False))
    assert fast_arrays(E2DS) is None

# ---------------------------------------------------------------- damaged and foreign files

def _table(path, wave, flux, unit='Angstrom', one_row=True, names=('WAVE', 'FLUX'), nrows=1):
    n = len(wave)
    arrays = [np.asarray(wave, np.float64), np.asarray(flux, np.float32)]
    if one_row:
        cols = [fits.Column(name=nm, format=f"{n}{'D' if k == 0 else 'E'}", unit=unit if k == 0 else 'adu',
                            array=np.repeat(a[None], nrows, 0)) for k, (nm, a) in enumerate(zip(names, arrays))]
    else:
        cols = [fits.Column(name=nm, format='D' if k == 0 else 'E', unit=unit if k == 0 else 'adu', array=a)
                for k, (nm, a) in enumerate(zip(names, arrays))]
    hdr = fits.Header({'OBJECT': 'TEST', 'ARCFILE': 'ADP.2031-01-01T00:00:00.000.fits', 'SNR': 50.})
    fits.HDUList([fits.PrimaryHDU(header=hdr), fits.BinTableHDU.from_columns(cols, name='SPECTRUM')]).writeto(path)
    return path

WAVE = np.arange(5000., 5020., 0.01)
FLUX = 1000. + 50 * np.sin(WAVE * 3)


def test_truncated_real_adp(tmp_path):
    if not ADP.exists(): pytest.skip(f"{ADP} absent")
    full = ADP.read_bytes()
    for n, what in ((len(full) // 2, 'truncated file'), (len(full) - 2880, 'truncated file'), (1000, 'unreadable FITS')):
        p = tmp_path/f'cut{n}.fits'
        p.write_bytes(full[:n])
        with pytest.raises(EmptySpectrumError, match=what) as e:
            read_spectrum(p)
        assert e.value.path == str(p)


def test_corrupt_files(tmp_path):
    with pytest.raises(AllNaNError, match='nan.fits: flux has no finite value'):
        read_spectrum(_table(tmp_path/'nan.fits', WAVE, np.full_like(FLUX, np.nan)))
    with pytest.raises(EmptySpectrumError, match="table 'SPECTRUM' has no rows"):
        read_spectrum(_table(tmp_path/'empty.fits', WAVE[:0], FLUX[:0], one_row=False))
    with pytest.raises(MissingFluxError, match=r'no flux column .*columns: WAVE, COUNTS'):
        read_spectrum(_table(tmp_path/'noflux.fits', WAVE, FLUX, names=('WAVE', 'COUNTS')))
    with pytest.raises(WavelengthError, match='no wavelength column'):
        read_spectrum(_table(tmp_path/'nowave.fits', WAVE, FLUX, names=('X', 'FLUX')))
    zig = WAVE.copy(); zig[500:510] = zig[500:510][::-1]
    with pytest.raises(WavelengthError, match='not monotonic: pixel 500'):
        read_spectrum(_table(tmp_path/'zig.fits', zig, FLUX))
    with pytest.raises(WavelengthError, match="unit 'km/s' is neither"):
        read_spectrum(_table(tmp_path/'kms.fits', WAVE, FLUX, unit='km/s'))
    with pytest.raises(NotOneDimensionalError, match='3 rows of 2000-pixel arrays'):
        read_spectrum(_table(tmp_path/'orders.fits', WAVE, FLUX, nrows=3))
    (tmp_path/'zero.fits').write_bytes(b'')
    with pytest.raises(EmptySpectrumError, match='zero.fits: unreadable FITS'):
        read_spectrum(tmp_path/'zero.fits')
    (tmp_path/'text.fits').write_text('SIMPLE  = this is not FITS\n' * 100)
    with pytest.raises(SpectrumError):
        read_spectrum(tmp_path/'text.fits')
    fits.PrimaryHDU().writeto(tmp_path/'header_only.fits')
    with pytest.raises(EmptySpectrumError, match='no table and no image data'):
        read_spectrum(tmp_path/'header_only.fits')


def test_foreign_formats(tmp_path):
    sp = read_spectrum(_table(tmp_path/'nm.fits', WAVE / 10, FLUX, unit='nm', one_row=False, names=('Wavelength', 'Flux')))
    np.testing.assert_allclose(sp.wave, WAVE, rtol=1e-12)
    assert sp.meta['dp_id'] == 'ADP.2031-01-01T00:00:00.000' and sp.meta['object'] == 'TEST' and sp.meta['snr'] == 50.
    sp = read_spectrum(_table(tmp_path/'rev.fits', WAVE[::-1], FLUX[::-1]))
    np.testing.assert_array_equal(sp.wave, WAVE); np.testing.assert_allclose(sp.flux, FLUX, rtol=1e-6)
    # negative CDELT1: a legal WCS written red to blue
    img = fits.PrimaryHDU(FLUX[::-1].astype(np.float32))
    img.header.update(CRVAL1=WAVE[-1], CDELT1=-0.01, CRPIX1=1., CTYPE1='WAVE', CUNIT1='Angstrom')
    img.writeto(tmp_path/'neg.fits')
    sp = read_spectrum(tmp_path/'neg.fits')
    np.testing.assert_allclose(sp.wave, WAVE, atol=1e-8); assert sp.meta['dp_id'] == 'neg'
    # (1, N) image from a library that keeps a degenerate axis
    img = fits.PrimaryHDU(FLUX[None].astype(np.float32)); img.header.update(CRVAL1=5000., CDELT1=0.01)
    img.writeto(tmp_path/'deg.fits')
    np.testing.assert_allclose(read_spectrum(tmp_path/'deg.fits').wave, WAVE, atol=1e-8)


def test_fast_path_on_written_files(tmp_path):
    "Files this package's mock (and other writers) produce: the fast path takes the simple ones, astropy the rest."
    import gzip
    err = np.full_like(FLUX, 3.)
    one_row = _table(tmp_path/'a.fits', WAVE, FLUX)
    per_pixel = _table(tmp_path/'b.fits', WAVE / 10, FLUX, unit='nm', one_row=False)
    nm_row = _table(tmp_path/'c.fits', WAVE / 10, FLUX, unit='nm')
    img = fits.PrimaryHDU(FLUX.astype(np.float64)); img.header.update(CRVAL1=5000., CDELT1=0.01, CUNIT1='Angstrom', OBJECT='X')
    img.writeto(tmp_path/'d.fits')
    scaled = fits.PrimaryHDU((FLUX * 10).astype(np.int16)); scaled.header.update(CRVAL1=5000., CDELT1=0.01, BSCALE=0.1)
    scaled.writeto(tmp_path/'e.fits')
    (tmp_path/'f.fits.gz').write_bytes(gzip.compress(one_row.read_bytes()))
    assert [fast_arrays(p) is not None for p in (one_row, per_pixel, nm_row, tmp_path/'d.fits', tmp_path/'e.fits')] == [True, False, True, True, False]
    for p in (one_row, per_pixel, nm_row, tmp_path/'d.fits', tmp_path/'e.fits', tmp_path/'f.fits.gz'):
        sp = read_spectrum(p)
        _same(sp, read_spectrum(p, fast=False))
        np.testing.assert_allclose(sp.wave, WAVE, rtol=1e-12); np.testing.assert_allclose(sp.flux, FLUX, atol=0.11)  # e.fits: int16 in 0.1 steps
    assert read_spectrum(tmp_path/'f.fits.gz').meta['dp_id'] == 'ADP.2031-01-01T00:00:00.000'
    cut = tmp_path/'cut.fits'
    cut.write_bytes(one_row.read_bytes()[:-3000])
    with pytest.raises(EmptySpectrumError, match='truncated file'): read_spectrum(cut)
    with pytest.raises(EmptySpectrumError, match='truncated file'): read_spectrum(cut, fast=False)


def test_log_lambda_image_resampled(tmp_path):
    "A log10-lambda image (SDSS/IRAF convention) resamples to the smooth function it samples."
    loglam = np.arange(np.log10(4990.), np.log10(5610.), 1e-5)
    w = 10 ** loglam
    img = fits.PrimaryHDU((1000 + 100 * np.sin(w / 20)).astype(np.float32))
    img.header.update(CRVAL1=loglam[0], CDELT1=1e-5, CRPIX1=1., CTYPE1='LOG-LINEAR', DC_FLAG=1)
    img.header['DC-FLAG'] = 1
    img.writeto(tmp_path/'loglam.fits')
    sp = read_spectrum(tmp_path/'loglam.fits')
    np.testing.assert_allclose(sp.wave, w, rtol=1e-12)
    grid = Grid.parse('5000:5600:0.5')
    gs = to_grid(sp, grid)
    assert gs.method == 'resampled' and gs.valid.sum() == grid.valid.sum()
    c = grid.wave[gs.valid]
    # bin average of sin over 0.5 Å: sinc factor is 1 - 1e-5; the float32 input limits agreement to ~1e-6
    np.testing.assert_allclose(gs.flux[gs.valid] * gs.median, 1000 + 100 * np.sin(c / 20), rtol=2e-5)


def test_exceptions_pickle():
    for cls in (SpectrumError, NotOneDimensionalError, EmptySpectrumError, MissingFluxError, WavelengthError, AllNaNError):
        e = pickle.loads(pickle.dumps(cls('a/b.fits', 'why')))
        assert type(e) is cls and (e.path, e.reason, str(e)) == ('a/b.fits', 'why', 'a/b.fits: why')

# ---------------------------------------------------------------- properties of to_grid

SMALL = Grid.parse('5000:5600:0.5')


@st.composite
def spectra(draw):
    "Random strictly increasing sampling inside 4990-5610 Å with positive flux and a few NaN."
    n = draw(st.integers(20, 400))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    lo = draw(st.floats(4990., 5300.)); hi = draw(st.floats(lo + 5., 5610.))
    steps = rng.uniform(0.2, 1.8, n)
    wave = lo + (hi - lo) * np.cumsum(steps) / steps.sum()
    flux = rng.uniform(1., 1000., n)
    if draw(st.booleans()): flux[rng.integers(0, n, 3)] = np.nan
    return wave, flux


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spectra(), st.floats(4990., 5600.), st.floats(1., 300.))
def test_rebin_conserves_flux(spec, a, width):
    wave, flux = spec
    flux = np.nan_to_num(flux, nan=0.)                       # conservation is about finite input
    e = pixel_edges(wave)
    lo, hi = max(a, e[0]), min(a + width, e[-1])            # bins inside the data: none partly uncovered
    assume(hi - lo > 1e-3)
    edges = np.linspace(lo, hi, 7)
    out = rebin(wave, flux, edges, min_coverage=0.)
    cum = np.r_[0., np.cumsum(flux * np.diff(e))]
    expected = np.interp(edges[-1], e, cum) - np.interp(edges[0], e, cum)
    assert np.nansum(out * np.diff(edges)) == pytest.approx(expected, rel=1e-9, abs=1e-9 * cum[-1])


@settings(max_examples=60, deadline=None)
@given(spectra())
def test_to_grid_properties(spec):
    wave, flux = spec
    gs = to_grid(Spectrum(wave, flux), SMALL, min_median=0.)
    assert isinstance(gs, GriddedSpectrum) and gs.flux.dtype == np.float32 and gs.flux.shape == (SMALL.length,)
    assert not (gs.valid & ~SMALL.valid).any()                         # never valid in pads or gap
    assert np.isfinite(gs.flux[gs.valid]).all() and np.isnan(gs.flux[~gs.valid]).all()
    e = pixel_edges(wave)                                              # a valid pixel is at least half covered
    covered = (SMALL.wave >= e[0] - 1e-9) & (SMALL.wave <= e[-1] + 1e-9)
    assert not (gs.valid & ~covered).any()                             # never valid outside the data
    if gs.valid.any():
        assert np.median(gs.flux[gs.valid].astype(np.float64)) == pytest.approx(1., rel=1e-6)
        lo, hi = np.nanmin(flux), np.nanmax(flux)                      # an average stays within the input range
        assert lo / gs.median - 1e-5 <= gs.flux[gs.valid].min() and gs.flux[gs.valid].max() <= hi / gs.median + 1e-5


@settings(max_examples=30, deadline=None)
@given(st.integers(-50, 1000), st.integers(10, 600), st.floats(-0.04, 0.04))
def test_lattice_spectra_are_copied(k0, n, shift):
    "On the lattice (to within snap_tol) the grid holds the file's own values, wherever the file starts."
    assume(abs(shift) < 1e-7 or abs(shift) > 1e-5)                      # away from the exact/snapped boundary
    wave = SMALL.wmin + SMALL.step * (k0 + np.arange(n)) + shift * SMALL.step
    flux = 100. + np.arange(n, dtype=np.float64)
    gs = to_grid(Spectrum(wave, flux), SMALL, min_median=None)
    assert gs.method == ('exact' if abs(shift) <= 1e-6 else 'snapped')
    k = SMALL.index(wave)
    ok = (k >= SMALL.core.start) & (k < SMALL.core.stop)
    ok[ok] &= SMALL.valid[k[ok]]
    np.testing.assert_array_equal(np.flatnonzero(gs.valid), np.sort(k[ok]))
    if ok.any():
        np.testing.assert_array_equal(gs.flux[k[ok]], (flux[ok] / gs.median).astype(np.float32))
