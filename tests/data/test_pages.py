import numpy as np
import pytest

from imsynth.data import load_dataset
from imsynth.data.pages import lay_out
from imsynth.data.sources import find_fashion
from tests.helpers import assert_one_line_error, run_cli

SIDE = 6


def flat_items(values) -> np.ndarray:
    """Items that are each one flat, nonzero value: a page's pixels say which item they came from."""
    return np.stack([np.full((SIDE, SIDE), value, dtype=np.uint8) for value in values])


def test_mosaic_pages_are_covered_by_the_given_items_at_every_phase_of_the_grid():
    pages = lay_out(flat_items([10, 20, 30, 40]), 300, 16, 1.0, 4, np.random.default_rng(0))
    assert pages.shape == (300, 16, 16) and pages.min() > 0  # items side by side: no background
    assert set(np.unique(pages)) == {10, 20, 30, 40}
    # where the item boundaries fall along the top row, modulo the item's side: every phase, so the items sit on
    # every phase of a codec's latent grid (crops at offset 0 only would give phase 0 every time)
    boundary = [np.flatnonzero(np.diff(page[0].astype(int)) != 0) for page in pages]
    phases = {(int(found[0]) + 1) % SIDE for found in boundary if len(found)}
    assert phases == set(range(SIDE))


def test_scattered_pages_hold_one_to_the_most_items_on_black():
    pages = lay_out(flat_items([50]), 400, 20, 0.0, 3, np.random.default_rng(1))
    lit = (pages > 0).reshape(len(pages), -1).sum(1)
    assert lit.min() == SIDE * SIDE  # one item, whole (never cut by the page's edge)
    assert lit.max() <= 3 * SIDE * SIDE and (lit > SIDE * SIDE).mean() > 0.3  # several items on many pages
    assert (pages == 0).any(axis=(1, 2)).all()  # the background stays black


def test_a_share_of_the_pages_are_mosaics():
    pages = lay_out(flat_items([7, 9]), 1000, 12, 0.3, 2, np.random.default_rng(2))
    covered = (pages > 0).all(axis=(1, 2)).mean()
    assert 0.25 < covered < 0.35


@pytest.mark.skipif(find_fashion() is None, reason="needs dataset-fashion-mnist")
def test_fashion_pages_are_seeded_and_made_of_their_own_splits_items():
    data = load_dataset("fashion-pages?size=40&train=30&test=20&grid=100")
    again = load_dataset("fashion-pages?size=40&train=30&test=20&grid=100")
    assert tuple(data.train_images.shape) == (30, 1, 40, 40) and tuple(data.test_images.shape) == (20, 1, 40, 40)
    assert data.kind == "images" and (data.train_images == again.train_images).all()
    other = load_dataset("fashion-pages?size=40&train=30&test=20&grid=100&seed=1")
    assert not (data.train_images == other.train_images).all()
    assert len(load_dataset("fashion-pages?train=30&test=20", limit=5).train_images) == 5


def test_bad_page_options_are_refused_with_the_dataset_named(capsys, tmp_path):
    for options, message in (
        ("size=20", "size must be at least 28"),
        ("grid=150", "grid is a percentage"),
        ("items=0", "items must be at least 1"),
        ("layout=grid", "unknown option 'layout'"),
        ("size=big", "size must be an integer"),
    ):
        code, _, err = run_cli(
            capsys, "train", "hyperprior", "--data", f"fashion-pages?{options}", "--out", str(tmp_path / "r")
        )
        assert_one_line_error(code, err, f"fashion-pages?{options}", message)
        assert not (tmp_path / "r").exists()
