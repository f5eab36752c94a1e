"The `stellar-nbs demo` wiring, run small: the default chain and the `--long` RV recipe's settings reach the run."
import json
import pytest, torch
from stellar_nbs.cli import demo_command, main, LONG_DEMO

@pytest.mark.slow
def test_demo_long_recipe_settings_reach_the_run(tmp_path, capsys):
    threads = torch.get_num_threads()
    try: rep = demo_command(str(tmp_path/'d'), long=True, n_targets=12, epochs=2, workers=1)
    finally: torch.set_num_threads(threads)
    cfg = json.loads((tmp_path/'d'/'run'/'config.json').read_text())
    assert cfg['grid']['step'] == 1.0 and cfg['epochs'] == 2 and cfg['preset'] == 'cpu'
    assert {k: cfg['kl'][k] for k in ('start', 'end', 'beta')} == LONG_DEMO['kl']
    out = capsys.readouterr().out
    assert 'informative nodes' in out and 'injected odd spectra' in out and (tmp_path/'d'/'run'/'report.md').exists()
    assert rep['n_spectra'] == cfg['n_train'] + cfg['n_valid']

def test_demo_full_and_long_are_exclusive(tmp_path, capsys):
    assert main(['demo', str(tmp_path/'x'), '--full', '--long']) == 1
    assert '--long' in capsys.readouterr().err and not (tmp_path/'x').exists()
