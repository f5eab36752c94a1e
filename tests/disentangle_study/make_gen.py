"The generalisation archive: another seed, population and grid, flux-normalised (needs --min-median 0)."
import sys, numpy as np
from pathlib import Path
from astropy.io import fits
import stellar_nbs.archive as archive
from stellar_nbs.spectra import Grid
out = Path(sys.argv[1])
archive.KINDS = {'FGK': 0.50, 'M': 0.22, 'AB': 0.16, 'giant': 0.12}
truth = archive.mock_archive(out, n_targets=400, seed=7, grid=Grid.parse('3600:7400:0.9'), n_exposures_max=4, progress=False)
for f in sorted(out.glob('*.fits')):
    with fits.open(f, mode='update') as h:
        d = h[1].data; med = np.nanmedian(d['FLUX'])
        d['FLUX'] = d['FLUX'] / med; d['ERR'] = d['ERR'] / med
        h[1].header['TUNIT2'] = ''
print(len(truth), truth.kind.value_counts().to_dict())
