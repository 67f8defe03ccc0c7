"""The studio's Directions tab: principal directions of a generator (GANSpace-style), each a slider. Interactive
(sliders move one image), so it is a widget, not an action."""

from __future__ import annotations

import numpy as np

from ..apps.explore import move_along, principal_directions
from ..errors import InputError
from ..image import save_image
from .controls import gr
from .widgets import guarded


def directions_tab(state, heavy: dict, run):
    with gr.Tab("Directions") as tab:
        gr.Markdown("Principal directions of the generator (GANSpace-style); each slider moves along one.")
        directions = gr.State(None)
        with gr.Row():
            seed = gr.Number(0, label="seed", precision=0)
            find = gr.Button("Find directions", variant="primary")
        sliders = [
            gr.Slider(-3, 3, value=0, step=0.1, label=f"direction {i + 1}", elem_id=f"direction-{i + 1}")
            for i in range(6)
        ]
        picture = gr.Image(label="image", interactive=False, height=256, elem_id="directions-result")

        @guarded
        def compute(name, s):
            found = principal_directions(state.model(name), components=len(sliders), seed=int(s or 0))
            variance = [f"{100 * float(v):.1f}%" for v in found.explained_variance]
            labels = [
                gr.update(value=0, label=f"direction {i + 1} ({variance[i]} of the variance)")
                if i < len(variance)
                else gr.update(visible=False)
                for i in range(len(sliders))
            ]
            return [found, *labels]

        @guarded
        def move(name, found, s, *amounts):
            if found is None:
                raise InputError("find the directions first")
            pixels = move_along(state.model(name), found, amounts[: len(found.vectors)], seed=int(s or 0))
            return save_image(state.scratch() / "moved.png", pixels.astype(np.float32) / 255.0).as_posix()

        find.click(compute, [run, seed], [directions, *sliders], **heavy).then(
            move, [run, directions, seed, *sliders], picture
        )
        for slider in sliders:
            slider.release(move, [run, directions, seed, *sliders], picture, **heavy)
    return tab
