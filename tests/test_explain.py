"""`explain_run` on planted latents over a real prepared mock store (nodes that follow the airmass, step in MJD,
follow the BERV must be named so), and on stand-in decoders whose response is a known shift, tilt or line change."""
import re
import json, os, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch, torch.nn as nn
import matplotlib; matplotlib.use('Agg')
from stellar_nbs.spectra import Grid
from stellar_nbs.ccf import doppler_factor
from stellar_nbs.mock import stellar_lines, line_tau0, SUN, Spectrograph, Exposure
from stellar_nbs.archive import mock_archive
from stellar_nbs.store import prepare, Store, read_metadata
from stellar_nbs.explain import explain_run, decoder_response, continuum_part, doppler_likeness, line_part, node_summary
from stellar_nbs.metadata import observing_metadata, time_step

GRID = '5000:5400:0.25'
STEP_MJD = 56000.                 # node 1 steps up here (an instrument intervention)

class ToyDecoder(nn.Module):
    "Gaussian lines at strong VALD lines: node 0 shifts them by `v` km/s per unit, node 1 tilts the continuum, node 2 deepens low-χ Fe I lines."
    def __init__(self, grid, v=5., tilt=0.1, n_lines=80, width_px=3.):
        super().__init__()
        lines = stellar_lines().query("source == 'VALD'")
        lines = lines[(lines.wave > grid.wmin + 2) & (lines.wave < grid.wmax - 2)]
        lines = lines.assign(tau=line_tau0(lines, SUN)[0]).nlargest(n_lines, 'tau')
        self.grid, self.v, self.tilt, self.x = grid, v, tilt, np.linspace(-1, 1, grid.length)
        self.centre, self.sigma = lines.wave.values, width_px * grid.step
        self.low = ((lines.element == 'Fe') & (lines.ion == 0) & (lines.chi < 2)).values
    def spectrum(self, z):
        wave = self.grid.wave / doppler_factor(z[0] * self.v)
        depth = 0.6 * np.where(self.low, 1 + 0.3 * z[2], 1.)
        lines = (depth[:, None] * np.exp(-0.5 * ((wave[None] - self.centre[:, None]) / self.sigma) ** 2)).sum(0)
        return (1 + 0.1 * self.x) * (1 + self.tilt * z[1] * self.x) * np.clip(1 - lines, 0.02, None) * self.grid.valid
    def decode(self, z):
        return torch.tensor(np.stack([self.spectrum(v) for v in z.detach().cpu().numpy().astype(np.float64)]), dtype=torch.float32)

@pytest.fixture(scope='module')
def planted(tmp_path_factory):
    "A prepared mock store and a run folder whose latents follow airmass (0), step at STEP_MJD (1), follow BERV (2), noise (3)."
    d = tmp_path_factory.mktemp('explain')
    grid = Grid.parse(GRID)
    truth = mock_archive(d/'archive', n_targets=40, seed=2, grid=grid, n_exposures_max=10, progress=False)
    st = prepare(d/'archive', d/'store', grid=grid, labels=d/'archive'/'labels.csv', progress=False)
    tr = truth.set_index('dp_id').reindex(st.dp_ids)
    rng = np.random.default_rng(1)
    mu = rng.normal(0, 1, (len(st), 4)).astype(np.float32)
    mu[:, 0] = (tr.airmass - 1.3) / 0.3 + 0.1 * rng.normal(size=len(st))
    mu[:, 1] = 1.5 * (tr.mjd.values > STEP_MJD) + 0.2 * rng.normal(size=len(st))
    mu[:, 2] = tr.berv / 20 + 0.1 * rng.normal(size=len(st))
    run = d/'run'; run.mkdir()
    np.save(run/'latents.npy', mu)                  # mu only: no logvar, no model
    pd.DataFrame(dict(row=np.arange(len(st)), dp_id=st.dp_ids)).to_csv(run/'latents_index.csv', index=False)
    return run, st, tr, mu

@pytest.fixture(scope='module')
def explained(planted):
    run, st, _, _ = planted
    return explain_run(run, st, nodes=[0, 1, 2, 3], figures=False)

def test_store_has_the_header_table(planted):
    _, st, tr, _ = planted
    meta = read_metadata(st)
    assert meta.dp_id.tolist() == st.dp_ids.tolist()
    np.testing.assert_allclose(meta.berv, tr.berv, atol=1e-4); np.testing.assert_allclose(meta.airmass, tr.airmass, atol=1e-3)

@pytest.mark.parametrize('node, column', [(0, 'airmass'), (2, 'berv')])
def test_planted_nodes_follow_their_metadata(explained, node, column):
    e = explained['node'][str(node)]
    best = e['metadata'][0]
    assert best['column'] == column and best['z'] > 10, e['metadata'][:3]
    assert set(best) >= {'column', 'mi', 'error', 'z'}
    assert any(s.startswith(f'follows {column}') for s in e['summary']), e['summary']

def test_a_step_in_mjd_is_named_as_time_with_its_date(explained, planted):
    mjd = planted[2].mjd.values
    e = explained['node']['1']
    ts = e['time_step']
    assert mjd[mjd < STEP_MJD].max() < ts['mjd'] < mjd[mjd > STEP_MJD].min(), ts
    assert e['summary'][0].startswith(f"tracks time: a step at {ts['date']}"), e['summary']
    assert ts['date'].startswith('2012-03'), ts                 # MJD 56000 is 2012-03-14

def test_noise_node_tracks_nothing(explained):
    e = explained['node']['3']
    assert e['summary'] == [], e['summary']
    assert all(m['z'] < 5 for m in e['metadata'] + e['labels']), (e['metadata'][:2], e['labels'][:2])

def test_mu_only_run_says_the_decoder_parts_need_the_model(explained, planted):
    assert 'need the trained model' in explained['model']
    assert 'continuum' not in explained['node']['0'] and 'doppler' not in explained['node']['0']
    saved = json.loads((planted[0]/'explain.json').read_text())
    assert saved['node']['0']['metadata'][0]['column'] == 'airmass' and saved['node']['0']['labels']
    assert (planted[0]/'explain.md').read_text().count('## Node ') == 4

def test_store_without_header_table_reads_the_source_headers(planted, tmp_path):
    run, st, _, mu = planted
    old = tmp_path/'store'; shutil.copytree(st.path, old); (old/'metadata.csv').unlink()
    idx = pd.read_csv(run/'latents_index.csv', dtype={'dp_id': str})
    frame, source = observing_metadata(idx, Store(old))
    assert 'no metadata.csv' in source and 'primary headers' in source, source
    np.testing.assert_allclose(frame.berv, observing_metadata(idx, st)[0].berv)

@pytest.mark.parametrize('v', [5., -12.])
def test_known_shift_is_shift_like_with_its_velocity(planted, v):
    _, st, _, mu = planted
    r = decoder_response(ToyDecoder(st.grid, v=v), mu, 0, st.grid)
    d = doppler_likeness(r)
    assert d['corr'] * np.sign(v) > 0.9 and abs(d['kms_per_unit'] - v) < 0.3 * abs(v), d
    assert continuum_part(r)['fraction'] < 0.05

def test_known_tilt_is_continuum_shape(planted):
    _, st, _, mu = planted
    r = decoder_response(ToyDecoder(st.grid, tilt=0.1), mu, 1, st.grid)
    c, d = continuum_part(r), doppler_likeness(r)
    assert c['fraction'] > 0.95 and abs(c['tilt'] - 0.2) < 0.02, c        # (1 + 0.1 z x): red minus blue = 0.2 per unit
    assert abs(d['corr']) < 0.1, d

def test_line_node_moves_low_excitation_iron(planted):
    _, st, _, mu = planted
    lp = line_part(decoder_response(ToyDecoder(st.grid), mu, 2, st.grid))
    named = [l for l in lp['lines'] if l['species']][:6]
    assert sum(l['species'] == 'Fe I' and l['chi'] < 2 for l in named) >= 4 and all(l['effect'] == 'deepens' for l in named), named
    assert lp['excitation']['low_chi'] > 10 * abs(lp['excitation']['high_chi']), lp['excitation']

def test_explain_run_with_a_model_names_shift_and_tilt(planted, tmp_path):
    run, st, _, mu = planted
    r2 = tmp_path/'run'; shutil.copytree(run, r2)
    (r2/'report.md').write_text('# report\n\n## Figures\n')
    res = explain_run(r2, st, nodes=[0, 1], model=ToyDecoder(st.grid, v=5.))
    s0, s1 = (' | '.join(res['node'][k]['summary']) for k in ('0', '1'))
    per_unit = float(re.search(r'acts as a shift of ([-\d.]+) km/s per unit', s0).group(1))
    assert abs(per_unit - 5.) < 0.5 and 'continuum shape' in s1 and 'shift' not in s1, (s0, s1)    # planted: 5 km/s per unit
    assert (r2/'explain_response_node0.png').exists() and (r2/'explain_exemplars_node1.png').exists()
    md = (r2/'report.md').read_text()
    assert md.count('## Node explanations') == 1 and 'acts as a shift' in md, md
    from stellar_nbs.report import analyse_run
    analyse_run(r2, store=st, figures=False, n_boot=10, n_workers=0)              # a second analyse keeps the section
    md = (r2/'report.md').read_text()
    assert md.count('## Node explanations') == 1 and 'acts as a shift' in md, md
    os.utime(r2/'latents.npy')                                                      # re-encoded: the explanations are stale
    analyse_run(r2, store=st, figures=False, n_boot=10, n_workers=0)
    md = (r2/'report.md').read_text()
    assert '## Node explanations' not in md and 'explain.json is older than the latents' in md, md

def test_time_step_names_steps_not_drifts():
    t = np.linspace(50000, 58000, 400)
    noise = 0.05 * np.random.default_rng(0).normal(size=400)
    step = time_step((t > 57171).astype(float) + noise, t)
    assert abs(step['mjd'] - 57171) < 20 and step['date'].startswith('2015-05'), step        # samples 20 days apart
    assert node_summary(dict(time_step=step))[0].startswith(f"tracks time: a step at {step['date']}")
    drift = node_summary(dict(time_step=time_step((t - t.mean()) / t.std() + noise, t)))
    assert drift and drift[0].startswith('drifts with time'), drift
    assert node_summary(dict(time_step=time_step(np.sin(t / 300.) + noise, t))) == []

class MockPhysicsDecoder(nn.Module):
    "The mock's forward model as a decoder: z = (Teff, RV, throughput tilt, PWV) in standard units -> median-normalised spectrum."
    SCALE = dict(teff=(5500., 600.), radvel=(0., 10.), tilt=(0., 0.06), pwv=(3., 1.5))
    def __init__(self, grid):
        super().__init__(); self.grid, self.sp, self.stars = grid, Spectrograph(grid), {}
    def spectrum(self, z):
        p = {k: m + s * v for (k, (m, s)), v in zip(self.SCALE.items(), z)}
        teff = round(float(p['teff']), 1)
        if teff not in self.stars: self.stars[teff] = self.sp.star(teff, 4.4, 0., 2.)
        flux, _ = self.sp.expose([(self.stars[teff], p['radvel'], teff, 1.)], Exposure(200., 1.2, max(p['pwv'], 0.1), 0., p['tilt'], 0.), noise=False)
        out = np.zeros(self.grid.length); out[self.grid.core] = flux / np.median(flux)
        return out
    def decode(self, z):
        return torch.tensor(np.stack([self.spectrum(v) for v in z.detach().cpu().numpy().astype(np.float64)]), dtype=torch.float32)

@pytest.fixture(scope='module')
def physics():
    "Findings for the Teff, RV, tilt (blue grid) and PWV (red grid, H₂O band) nodes of the mock's forward model."
    z = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    out = {}
    for grid, nodes in (('4840:5000:0.02', ('teff', 'radvel', 'throughput_tilt')), ('6400:6700:0.02', ('pwv',))):
        g = Grid.parse(grid); dec = MockPhysicsDecoder(g)
        for name in nodes:
            r = decoder_response(dec, z, list(MockPhysicsDecoder.SCALE).index({'throughput_tilt': 'tilt'}.get(name, name)), g, n_codes=6, n_values=3)
            out[name] = dict(continuum=continuum_part(r), doppler=doppler_likeness(r), lines=line_part(r))
            print(name, node_summary(out[name]))
    return out

def test_mock_rv_node_is_a_shift_of_its_velocity_scale(physics):
    d = physics['radvel']['doppler']
    assert d['corr'] > 0.9 and abs(d['kms_per_unit'] - 10.) < 3., d           # 10 km/s per unit, within 30 %

def test_mock_tilt_node_is_continuum_shape_only(physics):
    s = node_summary(physics['throughput_tilt'])
    assert physics['throughput_tilt']['continuum']['fraction'] > 0.9 and s[0].startswith('continuum shape only'), s

def test_mock_teff_node_moves_low_excitation_iron_and_hbeta(physics):
    lp = physics['teff']['lines']
    ex = lp['excitation']
    assert ex['low_chi'] < 0 and abs(ex['low_chi']) > 2 * abs(ex['high_chi']), ex     # low-χ Fe I weaken most with Teff
    hb = next(b for b in lp['bands'] if b['feature'].startswith('Hβ'))
    assert hb['enrichment'] > 1 and hb['observed_over_rest'] < 1, hb
    assert abs(physics['teff']['doppler']['corr']) < 0.1

def test_mock_pwv_node_moves_telluric_water_lines(physics):
    lp = physics['pwv']['lines']
    assert [l['species'] for l in lp['lines'][:4]] == ['telluric H₂O'] * 4, lp['lines'][:4]
    assert not any(r['feature'].startswith('Hα') for r in lp['regions']), lp['regions']     # H₂O lines in the Hα wings are not Hα
