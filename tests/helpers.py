"""Small data builders shared by tests."""

import torch


def tiny_dataset(count: int = 64, size: int = 8, channels: int = 1, classes: int = 4, seed: int = 0):
    """A small labelled dataset of smooth random blobs, for fast engine tests."""
    from imsynth.data import ImageDataset

    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(count, channels, size // 2, size // 2, generator=generator)
    images = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
    images = (images * 255).round().to(torch.uint8)
    labels = torch.arange(count) % classes
    return ImageDataset(name="tiny", train_images=images, test_images=images[: count // 4],
                        train_labels=labels, test_labels=labels[: count // 4],
                        class_names=[str(i) for i in range(classes)])
