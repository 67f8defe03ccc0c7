import numpy as np
import torch
import torch.nn.functional as F

from imsynth.data import load_dataset
from imsynth.metrics.video import swap_report
from imsynth.runtime.classifier import load_feature_net

CLIPS = "moving-fashion?items=1&stochastic=1&seed=7&train=64&test=64"


def test_a_swap_report_tells_whose_item_and_whose_path_a_clip_shows():
    data = load_dataset(CLIPS)
    a = data.to_batch(data.test_images)
    labels = data.test_labels
    b = a[torch.from_numpy(np.random.default_rng(0).permutation(len(a)))]
    classifier, _ = load_feature_net("fashion-mnist")

    def report(swapped, motion):
        return swap_report(
            swapped, motion, labels, classifier, item_size=28, tolerance=4.0, content_clips=a, renderings=(a, b)
        )

    itself = report(a, a)  # the real clips: content_kept is the classifier's own accuracy on them
    assert 0.7 < itself["content_kept"] < 1.0
    other = report(b, b)  # B's item, judged as a swap meant to keep A's item
    assert other["content_as_classified"] < 0.35 and other["content_kept"] < 0.35
    assert report(a, b)["motion_kept"] < 0.3  # A's path judged against B's
    # a blurred drawing of A's item: the classifier no longer names it, the nearer-rendering measure still does
    blurred = F.avg_pool2d(a.flatten(0, 1), 5, stride=1, padding=2, count_include_pad=False).view_as(a)
    drawn = report(blurred, a)
    assert drawn["content_kept"] < itself["content_kept"] - 0.2, (drawn, itself)
    assert drawn["content_nearer_own_rendering"] > 0.95 and other["content_nearer_own_rendering"] == 0.0
