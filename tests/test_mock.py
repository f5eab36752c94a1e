"Longer checks of stellar_nbs.mock / stellar_nbs.ccf: full HARPS resolution, the demo grid, odd spectra, real stars."
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

import stellar_nbs.mock as mock
from stellar_nbs.mock import Exposure, Spectrograph, synth_spectrum, stellar_lines
from stellar_nbs.archive import mock_archive, draw_targets
from stellar_nbs.ccf import ccf, ccf_rv, der_snr, continuum, doppler_factor, BUNDLED_LINELISTS
from stellar_nbs.spectra import Grid, read_spectrum, HARPS_GAP
from stellar_nbs.resample import to_grid

DATA = Path(__file__).resolve().parents[1].parent/'shared'/'data'
ALPHA_CEN_B = sorted((DATA/'harps'/'alpha_cen_b').glob('*.fits'))
DEMO = Grid.parse('4000:6900:0.2')
needs_data = pytest.mark.skipif(not ALPHA_CEN_B, reason=f"real HARPS files not found in {DATA}")

@pytest.fixture(scope='module')
def harps():
    return Spectrograph()

@pytest.fixture(scope='module')
def demo_archive(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    truth = mock_archive(out, n_targets=60, seed=0, grid=DEMO, odd={'emission': 2, 'sb2': 2, 'broken': 2}, progress=False)
    return out, truth

# ------------------------------------------------------------------ radial velocities

@pytest.mark.slow
@pytest.mark.parametrize('teff,logg,m_h,vsini', [(6500, 4.2, -0.3, 8.), (5777, 4.44, 0., 2.), (4300, 4.7, -0.8, 2.), (4800, 2.6, -0.2, 3.)])
def test_ccf_recovers_injected_rv_at_full_resolution(harps, teff, logg, m_h, vsini):
    star = harps.star(teff, logg, m_h, vsini)
    for i, rv in enumerate((-148., 0.3, 150.)):
        f, e = harps.expose([(star, rv, teff, 1.)], Exposure(60., 1.4, 4., berv=25. * np.sin(i)), rng=i)
        assert abs(ccf_rv(harps.wave, f) - rv) < 0.3, (teff, rv)

def test_ccf_recovers_rv_on_the_demo_grid():
    sp = Spectrograph(DEMO)
    star = sp.star(5600., 4.4, 0., 3.)
    for rv in (-120., -3.3, 0.8, 47.2):
        f, e = sp.expose([(star, rv, 5600., 1.)], Exposure(50.), rng=2)
        assert abs(ccf_rv(sp.wave, f) - rv) < 0.5

# ------------------------------------------------------------------ the demo grid: what the demo model must see

def test_rv_and_teff_change_the_demo_spectra_beyond_the_noise():
    sp = Spectrograph(DEMO)
    star = sp.star(5600., 4.4, 0., 3.)
    ref, err = sp.expose([(star, 0., 5600., 1.)], Exposure(50.), noise=False)
    shifted, _ = sp.expose([(star, 1., 5600., 1.)], Exposure(50.), noise=False)
    assert np.sqrt(np.mean(((shifted - ref) / err) ** 2)) > 0.5          # 1 km/s: half a noise sigma per 0.2 A pixel
    hotter_star = sp.star(5700., 4.4, 0., 3.)
    hotter, _ = sp.expose([(hotter_star, 0., 5700., 1.)], Exposure(50.), noise=False)
    norm = lambda f: f / np.median(f)
    assert np.sqrt(np.mean(((norm(hotter) - norm(ref)) / (err / np.median(ref))) ** 2)) > 0.3   # 100 K

@pytest.mark.slow
def test_demo_archive_is_fast_and_complete(demo_archive):
    out, truth = demo_archive
    assert 150 <= len(truth) <= 900
    assert set(truth.odd) == {'', 'emission', 'sb2', 'broken'}
    assert (truth.odd != '').sum() == 6
    assert truth.kind.value_counts().idxmax() == 'FGK'
    assert len(list(out.glob('*.fits'))) == len(truth)
    labels = pd.read_csv(out/'labels.csv')
    assert (labels.dp_id == truth.dp_id).all()
    for c in ('teff', 'logg', 'm_h', 'mass', 'vsini'):
        assert 0 < labels[c].isna().mean() < 0.7, c                        # realistic gaps
    assert labels[['radvel', 'snr', 'airmass']].notna().all().all()
    ok = labels.teff.notna()
    assert np.corrcoef(labels.teff[ok], truth.teff[ok])[0, 1] > 0.99

@pytest.mark.slow
def test_demo_files_read_back_like_real_adp(demo_archive):
    out, truth = demo_archive
    row = truth.iloc[3]
    sp = read_spectrum(out/f'{row.dp_id}.fits')
    assert sp.meta['object'] == row.target and sp.meta['dp_id'] == row.dp_id
    assert sp.meta['berv'] == pytest.approx(row.berv) and sp.meta['airmass'] == pytest.approx(row.airmass)
    assert sp.meta['snr'] == pytest.approx(row.snr) and sp.meta['instrument'] == 'HARPS'
    g = to_grid(sp, DEMO)
    assert g.method == 'exact' and (g.valid == (DEMO.valid)).all() == (not g.degenerate)
    assert np.median(sp.flux / sp.err) == pytest.approx(row.snr, rel=0.05)

def test_write_adp_bytes_are_those_of_the_fourteen_argument_version(tmp_path):
    "The FITS bytes `write_adp(path, Spectrum)` writes are those of the old `write_adp(path, wave, flux, err, obj, ...)` (sha256 of its file)."
    import hashlib
    from stellar_nbs.archive import write_adp
    from stellar_nbs.spectra import Spectrum
    wv = np.arange(5000., 5010., 0.01); fl = np.linspace(900, 1100, len(wv)).astype(np.float32)
    meta = dict(object='HD 1', ra=10.5, dec=-20.25, mjd=60000.5, snr=80., airmass=1.3, berv=-12.5, exptime=600.)
    p = write_adp(tmp_path/'ADP.2031-01-01T00:00:00.000.fits', Spectrum(wv, fl, np.sqrt(fl), meta))
    assert hashlib.sha256(p.read_bytes()).hexdigest() == '11fc5bedf28ce192ac88c48238487618493b9804fea28cf712a889191113390f'

def test_synth_spectrum_takes_the_exposure_whole():
    "`synth_spectrum(..., exposure=Exposure(...))` is one `Spectrograph.expose` of that exposure, bit for bit."
    sp = Spectrograph(Grid.parse('5150:5200:0.05'))
    ex = Exposure(150., 1.6, 4., 12., 0.03, -0.01)
    w, f, e = synth_spectrum(5200., 4.4, 0.2, 1., -22., exposure=ex, seed=5, spectrograph=sp)
    f2, e2 = sp.expose([(sp.star(5200., 4.4, 0.2, 1.), -22., 5200., 1.)], ex, 5)
    assert (w == sp.wave).all() and (f == f2).all() and (e == e2).all()
    assert not (synth_spectrum(5200., 4.4, 0.2, 1., -22., exposure=Exposure(150.), seed=5, spectrograph=sp)[1] == f).all()

@pytest.mark.slow
def test_odd_spectra_are_odd(demo_archive):
    out, truth = demo_archive
    flux = lambda r: fits.getdata(out/f'{r.dp_id}.fits', 'SPECTRUM')['FLUX'][0].astype(float)
    wave = DEMO.wave[DEMO.core]
    for r in truth[truth.odd == 'broken'].itertuples():
        f = flux(r)
        lo, hi = (float(x) for x in r.odd_detail.split()[1].split('-'))
        dead = (wave >= lo) & (wave <= hi)
        assert np.median(f[dead]) < 0.05 * np.median(f[~dead])
    for r in truth[truth.odd == 'emission'].itertuples():
        f = flux(r) / continuum(wave, flux(r))
        ha = np.abs(wave - 6562.8 * doppler_factor(r.radvel)) < 0.4
        assert f[ha].max() > 1.1
    for r in truth[truth.odd == 'sb2'].itertuples():
        v, c = ccf(wave, flux(r), v_grid=np.arange(-250., 251., 2.))
        rv2 = float(r.odd_detail.split('rv ')[1].split()[0])
        depth = lambda x: np.interp(x, v, c)
        base = np.median(c)
        assert base - depth(r.radvel) > 0 and base - depth(rv2) > 0.2 * (base - depth(r.radvel))

# ------------------------------------------------------------------ reproducibility and the bundled line list

def test_bundled_line_list_gives_the_same_spectra(monkeypatch, tmp_path):
    grid = Grid.parse('6100:6200:0.05')
    a = synth_spectrum(5400., 4.5, 0.1, 2., 10., grid=grid, seed=4)[1]
    monkeypatch.setenv('STELLAR_NBS_LINELISTS', str(BUNDLED_LINELISTS))
    stellar_lines.cache_clear()
    try:
        b = synth_spectrum(5400., 4.5, 0.1, 2., 10., grid=grid, seed=4)[1]
    finally: stellar_lines.cache_clear()
    np.testing.assert_array_equal(a, b)

def test_population_is_harps_like():
    t = draw_targets(2000, np.random.default_rng(5))
    share = t.kind.value_counts(normalize=True)
    assert 0.6 < share['FGK'] < 0.8 and 0.05 < share['AB'] < 0.15 and share['giant'] < 0.12
    assert (t.rv_sys.abs() <= 60).mean() > 0.9 and t.rv_sys.abs().max() > 100
    assert t.n_exp.max() >= 20 and t.n_exp.median() <= 3                        # heavy tail
    assert t[t.kind == 'FGK'].vsini.median() < 10 < t[t.kind == 'AB'].vsini.median()
    assert -1.5 <= t.m_h.min() and t.m_h.max() <= 0.5

# ------------------------------------------------------------------ real stars

@needs_data
@pytest.mark.slow
def test_alpha_cen_b_look_alike_correlates_with_the_real_star():
    real = read_spectrum(ALPHA_CEN_B[0])
    w, f, e = synth_spectrum(5200., 4.4, 0.2, 1., radvel=-22., seed=1,
                             exposure=Exposure(real.meta['snr'], real.meta['airmass'], berv=real.meta['berv']))
    rest = lambda w, f: (w / doppler_factor(ccf_rv(w, f)), f / continuum(w, f, 5., 95))
    x = np.arange(5000., 6800., 0.01); x = x[(x < HARPS_GAP[0] - 5) | (x > HARPS_GAP[1] + 5)]
    r = np.corrcoef(np.interp(x, *rest(w, f)), np.interp(x, *rest(real.wave, real.flux.astype(float))))[0, 1]
    print(f'alpha Cen B vs mock: r = {r:.3f}')
    assert r > 0.85

@needs_data
def test_ccf_rv_of_real_stars_matches_the_pipeline():
    rvc = fits.getheader(DATA/'harps'/'HARPS.2006-07-05T03:52:40.071_ccf_G2_A.fits')['HIERARCH ESO DRS CCF RVC']
    sp = read_spectrum(DATA/'harps'/'ADP.2014-09-16T11:04:45.123.fits')
    assert ccf_rv(sp.wave, sp.flux) == pytest.approx(rvc, abs=0.3)
