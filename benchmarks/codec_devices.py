"""Which device combinations decode a codec's streams exactly: encode on each device, decode on each, compare.

    python benchmarks/codec_devices.py RUN [RUN ...]

Prints one JSON line per run: for encode device x decode device, whether the decode succeeded, whether the
image equals the same-device decode bit for bit, the max difference, and encode/decode seconds for a
512x512 RGB photograph (scikit-image's astronaut; grey runs use its luminance).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
from skimage import data

from imsynth.apps.compress import load_codec
from imsynth.errors import ImsynthError


def main(runs: list[str]) -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    photo = data.astronaut().astype(np.float32) / 255
    for run in runs:
        codecs = {device: load_codec(run, device=device) for device in devices}
        image = photo if codecs["cpu"].channels == 3 else photo.mean(axis=2)
        streams, timings, reference = {}, {}, {}
        for device, codec in codecs.items():
            codec.encode(image)  # warm-up (cuDNN autotuning, lazy init)
            started = time.perf_counter()
            streams[device] = codec.encode(image)
            timings[f"encode_{device}_s"] = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            reference[device] = codec.decode(streams[device])
            timings[f"decode_{device}_s"] = round(time.perf_counter() - started, 3)
        pairs = {}
        for source in devices:
            for target in devices:
                try:
                    decoded = codecs[target].decode(streams[source])
                except ImsynthError as error:
                    pairs[f"{source}->{target}"] = {"decoded": False, "error": str(error)}
                    continue
                difference = float(np.abs(decoded - reference[source]).max())
                pairs[f"{source}->{target}"] = {"decoded": True, "max_abs_diff_vs_encoder_device": difference}
        same = len({streams[d] for d in devices}) == 1
        print(json.dumps({"run": run, "streams_identical_across_devices": same, **timings, "pairs": pairs}))


if __name__ == "__main__":
    main(sys.argv[1:])
