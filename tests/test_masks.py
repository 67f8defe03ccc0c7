import numpy as np
import pytest

from imsynth.errors import InputError
from imsynth.masks import mask_from_strokes


def test_mask_from_strokes_is_the_union_of_the_painted_pixels():
    first = np.zeros((6, 8, 4), dtype=np.uint8)
    first[1, 2] = (255, 0, 0, 255)
    second = np.zeros((6, 8, 4), dtype=np.uint8)
    second[4, 7, 3] = 1  # barely visible paint is still paint
    second[0, 0, :3] = 255  # colour under full transparency is not
    mask = mask_from_strokes([first, second])
    assert mask.shape == (6, 8) and mask.dtype == bool
    assert {tuple(p) for p in np.argwhere(mask)} == {(1, 2), (4, 7)}


def test_no_strokes_or_mismatched_layers_are_errors():
    with pytest.raises(InputError, match="paint the hole with the brush first \\(no strokes\\)"):
        mask_from_strokes([])
    with pytest.raises(InputError, match="the strokes are empty"):
        mask_from_strokes([np.zeros((4, 4, 4), dtype=np.uint8)])
    with pytest.raises(InputError, match="differ in size"):
        mask_from_strokes([np.zeros((4, 4, 4)), np.zeros((5, 4, 4))])
