import os

import numpy as np
import pytest
import torch

# Tests run two at a time (pytest -n 2) on a 2-core machine: one intra-op thread each avoids oversubscription.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def digits():
    from imsynth.data import load_dataset

    return load_dataset("digits")
