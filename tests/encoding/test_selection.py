"""Voxel selection by validation r: strict threshold, NaN never kept, bad input refused."""

import numpy as np
import pytest

from neurofin.encoding.selection import select_voxels
from neurofin.errors import InputError


def test_select_voxels_is_strict_and_never_keeps_nan():
    r = np.array([0.05, np.nextafter(0.05, 1.0), 0.2, np.nan, -0.3, np.inf, -np.inf, 0.049])
    keep = select_voxels(r, 0.05)
    assert keep.tolist() == [False, True, True, False, False, True, False, False]
    assert select_voxels(np.array([np.nan, 0.0]), -1.0).tolist() == [False, True]


@pytest.mark.parametrize("r, threshold, message", [(np.zeros((2, 3)), 0.05, "1-D"), (np.zeros(3), 1.0, "must lie in")])
def test_select_voxels_rejects_bad_input(r, threshold, message):
    with pytest.raises(InputError, match=message):
        select_voxels(r, threshold)
