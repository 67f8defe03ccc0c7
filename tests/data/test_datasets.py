import numpy as np
import pytest
import torch
from PIL import Image

from imsynth.data import list_datasets, load_dataset, to_model
from imsynth.data.shapes import FACTOR_SIZES, render_shapes
from imsynth.errors import DataError, InputError

fashion_available = any(r["name"] == "fashion-mnist" and r["available"] for r in list_datasets())


def test_digits_has_disjoint_labelled_splits(digits):
    assert digits.train_images.shape[1:] == (1, 8, 8) and digits.train_images.dtype == torch.uint8
    assert len(digits.train_images) + len(digits.test_images) == 1797
    assert digits.num_classes == 10 and set(digits.test_labels.tolist()) == set(range(10))
    assert digits.train_images.max() == 255
    batch = to_model(digits.train_images[:4])
    assert batch.min() >= -1 and batch.max() <= 1


@pytest.mark.skipif(not fashion_available, reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_loads_from_the_debian_package():
    data = load_dataset("fashion-mnist")
    assert data.train_images.shape == (60000, 1, 28, 28)
    assert data.test_images.shape == (10000, 1, 28, 28)
    assert torch.bincount(data.test_labels).tolist() == [1000] * 10
    resized = load_dataset("fashion-mnist", image_size=32, limit=10)
    assert resized.train_images.shape == (10, 1, 32, 32)


def test_missing_fashion_mnist_says_where_it_looked(monkeypatch, tmp_path):
    from imsynth.data import sources

    monkeypatch.setattr(sources, "find_fashion", lambda: None)
    monkeypatch.setattr(sources, "fashion_candidates", lambda: [tmp_path / "nowhere"])
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as error:
        load_dataset("fashion-mnist")
    assert "nowhere" in str(error.value)


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(
        InputError,
        match=r"valid: crops:PATH, digits, fashion-mnist, fashion-pages, folder:PATH, fortunes, frames:FOLDER\[\?frames=N&stride=N&size=N\], moving-digits, moving-fashion, moving-shapes, npz:PATH, pairs:NAME~TRANSFORM, photos, shapes, text:PATH\[\?unit=sentence&vocab=N&max_tokens=N\], unpaired:A,B, video:FILE",
    ):
        load_dataset("cifar-1000")


def test_shapes_rendering_follows_the_factors():
    base = np.array([[0, 5, 0, 0, 16]])
    moved = base.copy()
    moved[0, 3] = 31
    left, right = render_shapes(base)[0].astype(float), render_shapes(moved)[0].astype(float)
    columns = np.arange(64)
    centroid = lambda image: (image.sum(0) * columns).sum() / image.sum()
    assert centroid(right) - centroid(left) == pytest.approx(40.0, abs=1.0)  # x spans 40 px
    small = base.copy()
    small[0, 1] = 0
    assert render_shapes(small).sum() < render_shapes(base).sum()  # scale shrinks the area
    assert np.array_equal(render_shapes(base), render_shapes(base))
    kinds = render_shapes(np.array([[k, 5, 3, 16, 16] for k in range(3)]))
    assert len({k.tobytes() for k in kinds}) == 3
    with pytest.raises(ValueError, match="rotation index out of range"):
        render_shapes(np.array([[0, 0, FACTOR_SIZES[2], 0, 0]]))


def test_shapes_dataset_carries_factors_and_the_generator_that_renders_them():
    data = load_dataset("shapes", limit=50)
    assert data.train_images.shape == (50, 1, 64, 64)
    assert data.factors_train.shape == (50, 5)
    assert np.array_equal(render_shapes(data.factors_train[:3].numpy()), data.train_images[:3, 0].numpy())
    # the disentanglement metrics draw from the dataset's own declared generator, not from a name check
    source = data.factor_source
    assert source.sizes == FACTOR_SIZES
    assert np.array_equal(source.render(data.factors_test[:4].numpy()), data.test_images[:4].numpy())
    assert load_dataset("digits").factor_source is None


@pytest.mark.parametrize(
    "name, kind",
    [
        ("digits", "images"),
        ("shapes", "images"),
        ("pairs:digits~edges", "pairs"),
        ("unpaired:digits[0],digits[1]", "pairs"),
    ],
)
def test_datasets_hold_the_kind_their_table_row_declares(name, kind):
    from imsynth.data import REGISTRY

    data = load_dataset(name, limit=40)
    row = REGISTRY.get(name.partition(":")[0] + ":" if ":" in name else name)
    assert row.kind == kind and data.kind == kind
    shown = {r["name"]: r["kind"] for r in list_datasets()}
    assert shown[row.shown_name] == kind


def test_a_model_refuses_data_of_another_kind_and_names_the_datasets_of_its_own(tmp_path):
    from imsynth.train import train

    with pytest.raises(
        InputError, match=r"model pix2pix trains on pairs \(pairs:NAME~TRANSFORM, unpaired:A,B\); digits holds images"
    ):
        train("pix2pix", load_dataset("digits", limit=16), out=tmp_path / "run")
    with pytest.raises(InputError, match="model vae trains on images .*holds pairs"):
        train("vae", load_dataset("pairs:digits~edges", limit=16), out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_folder_dataset_handles_mixed_sizes_and_modes_with_class_subfolders(tmp_path, rng):
    for index, (folder, size, mode) in enumerate(
        [("cats", (20, 16), "RGB"), ("cats", (16, 16), "L"), ("dogs", (30, 40), "RGBA"), ("dogs", (16, 24), "P")]
    ):
        (tmp_path / folder).mkdir(exist_ok=True)
        array = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
        Image.fromarray(array).convert(mode).save(tmp_path / folder / f"{index}.png")
    data = load_dataset(f"folder:{tmp_path}", image_size=12)
    images = torch.cat([data.train_images, data.test_images])
    assert images.shape == (4, 3, 12, 12)
    assert data.class_names == ["cats", "dogs"]


@pytest.mark.parametrize("content", [b"", b"garbage bytes"])
def test_folder_dataset_with_a_bad_file_names_it(tmp_path, content):
    Image.new("L", (8, 8)).save(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(content)
    with pytest.raises(DataError, match="broken.png"):
        load_dataset(f"folder:{tmp_path}")


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no image files"):
        load_dataset(f"folder:{tmp_path}")


def test_npz_dataset_round_trip(tmp_path, rng):
    images = (rng.random((20, 6, 6)) * 255).astype(np.uint8)
    labels = np.arange(20) % 3
    np.savez(tmp_path / "d.npz", images=images, labels=labels)
    data = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert len(data.train_images) == 18 and len(data.test_images) == 2
    assert data.num_classes == 3
    np.savez(tmp_path / "bad.npz", images=rng.random((3, 4, 4)) * 2)
    with pytest.raises(DataError, match=r"values in \[0, 1\]"):
        load_dataset(f"npz:{tmp_path / 'bad.npz'}")
