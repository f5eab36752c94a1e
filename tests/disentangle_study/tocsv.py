import json, pandas as pd, sys
DESC = {
 'old_cpu': ('0.2 Å, 500 spectra', 'old cpu preset: KL mean over nodes, β 0.3, ramp 0.1-0.5'),
 'capsmdop': ('0.2 Å, 500 spectra', 'KL sum + capacity C 0→20 nats (Burgess 2018) + blur curriculum σ 4→0 px + Doppler aug ±50 km/s'),
 'a1_mean_late': ('1 Å, 1218 spectra', 'KL mean β 0.3, late ramp 0.5-0.8'),
 'a1_sum01_late': ('1 Å, 1218 spectra', 'KL sum β 0.01, late ramp'),
 'a1_dop100_sum005': ('1 Å, 1218 spectra', 'KL sum β 0.005, late ramp + Doppler aug ±100 km/s'),
 'a1_dop100_group005': ('1 Å, 1218 spectra', 'KL group β 0.005, late ramp + Doppler aug ±100 km/s'),
 'a1_equi_group005': ('1 Å, 1218 spectra', 'KL group β 0.005, late ramp + Doppler pairs ±100 km/s (equivariance λ 0.02)'),
 'a1_equi1_group005': ('1 Å, 1218 spectra', '... + hinge |w| ≥ 1'),
 'a1_equi1_dec1': ('1 Å, 1218 spectra', '... + hinge |w| ≥ 1 + decoder term λ_dec 1'),
 'a1_equi6_dec3': ('1 Å, 1218 spectra', '... + hinge |w| ≥ 6 + decoder term λ_dec 3'),
 'a1_equi10_dec3': ('1 Å, 1218 spectra', '... + hinge |w| ≥ 10 + decoder term λ_dec 3'),
 'a1_equi3_dec1': ('1 Å, 1218 spectra', '... + hinge |w| ≥ 3 + decoder term λ_dec 1 (the new cpu preset)'),
}
rows = [json.loads(l) for l in open('STUDY/study_all.jsonl')]
out = []
for r in rows:
    if r['name'] not in DESC: continue
    data, cfg = DESC[r['name']]
    out.append(dict(run=r['name'], data=data, configuration=cfg, seed=r['seed'], epochs=r['epochs'], spectrum_passes=r['passes'],
                    train_s=r['train_s'], valid_l1=r['valid_l1'], n_mad=r['n_mad'], n_active=r['n_active'],
                    rv_node=r.get('rv_node'), rv_mi=r.get('rv_mi'), teff_node=r.get('teff_node'), teff_mi=r.get('teff_mi'),
                    rv_r2_all_nodes=r.get('rv_r2_all'), rv_decoded_shift_kms=r.get('rv_decoded_shift'), rv_encoded_range_kms=r.get('rv_range_encoded'),
                    shift_ratio=r.get('shift_ratio'), chosen=r['name'] == 'a1_equi3_dec1'))
df = pd.DataFrame(out)
df = pd.concat([df[~df.chosen], df[df.chosen]])
df.to_csv(sys.argv[1], index=False, float_format='%.4g')
print(df.to_string())
