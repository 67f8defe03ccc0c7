"""Peak memory of training on a long 1080p recording (issue 26): `video:FILE` is streamed, so memory must not grow
with the recording's length.

    python benchmarks/video_memory.py --minutes 1,3,10

Writes a 1920x1080, 30 fps H.264 test pattern of each length with the ffmpeg that imageio-ffmpeg ships, then runs
`imsynth train svg --data video:FILE?frames=15&stride=15&size=64 --steps 3` in a fresh process per length and
prints the training process's peak resident memory (its own ru_maxrss), first for the same training on 64
generated clips (the floor: torch, the model, the optimiser). Target: under 2 GB at 10 minutes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg


def recording(path: Path, minutes: float) -> Path:
    if not path.exists():
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
             f"testsrc2=size=1920x1080:rate=30:duration={minutes * 60}", "-c:v", "libx264", "-preset", "ultrafast",
             "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )  # fmt: skip
    return path


# the child reports its own peak (ru_maxrss of RUSAGE_SELF, KiB on Linux): ffmpeg's is not counted
CHILD = (
    "import resource, sys\nfrom imsynth.cli import main\ntry:\n    main(sys.argv[1:])\n"
    "except SystemExit as stop:\n    if stop.code:\n        raise\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", default="1,3,10", help="recording lengths to try")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "imsynth-video-memory")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    datasets = [("no recording (64 generated clips)", "moving-digits?train=64&test=8&frames=15&size=64")]
    for minutes in (float(m) for m in args.minutes.split(",") if m):
        video = recording(args.work / f"pattern-{minutes:g}min.mp4", minutes)
        datasets.append(
            (f"{minutes:g} min 1080p ({int(minutes * 60 * 30)} frames)", f"video:{video}?frames=15&stride=15&size=64")
        )
    for label, data in datasets:
        out = args.work / "run"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, "train", "svg", "--data", data, "--steps", "3", "--out", str(out), "--quiet"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        peak = int(done.stdout.strip().splitlines()[-1])
        print(f"{label}: peak RSS of the training process {peak / 1024:.0f} MiB, {time.perf_counter() - started:.0f} s")
        subprocess.run(["rm", "-rf", str(out)], check=True)


if __name__ == "__main__":
    main()
