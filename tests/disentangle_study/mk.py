import sys
from stellar_nbs.archive import mock_archive
from stellar_nbs.store import prepare
from stellar_nbs.spectra import Grid
out, grid, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from pathlib import Path
g = Grid.parse(grid)
mock_archive(Path(out)/'archive', n_targets=n, seed=seed, grid=g, odd={'emission': 1, 'sb2': 1, 'broken': 1}, n_exposures_max=4, progress=False)
st = prepare(Path(out)/'archive', Path(out)/'store', grid=g, labels=Path(out)/'archive'/'labels.csv', workers=1, progress=False)
print(len(st), g.length)
