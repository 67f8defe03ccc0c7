"""The studio's page: a tab per group of actions, each action's form made from its row of the action table
(``forms.action_form``; the Train tab's controls too, from the ``train`` row), plus the widgets that are not
actions (GANSpace sliders, Start/Stop/Resume of a background training, the runs browser).

Uploads arrive as files and go to the same functions the CLI calls, so a result here is the CLI's result, byte
for byte, and every check (a corrupt file, a mask of the wrong size, a run of the wrong kind) is the library's,
shown in the page as its one-line message. Choosing a run shows only the actions and controls its family declares
it can use (``capabilities``).
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from ..apps.actions import ACTIONS
from ..errors import InputError
from ..image import image_file_size
from ..models import MODEL_REGISTRY, load_run
from ..runtime import runs
from . import examples
from .controls import gr
from .directions import directions_tab
from .forms import Form, action_form
from .train import runs_tab, train_tab
from .widgets import guarded

CSS = """
.imsynth-note {font-size: 0.9em; opacity: 0.8}
footer {display: none !important}
"""

# The page marks the moment its tabs are first painted (the User Timing API), so the paint time is read in the
# page's own clock: a browser driver polling for the tabs adds its own delay, up to 0.9 s on a loaded machine
PAINT_MARK = "imsynth-tabs-shown"
HEAD = f"""<script>(() => {{
  const shown = () => [...document.querySelectorAll("[role=tab]")].some((tab) => tab.getClientRects().length);
  const watch = new MutationObserver(() => {{
    if (!shown()) return;
    watch.disconnect();  // marked after the next frame is painted, not when the tabs enter the page
    requestAnimationFrame(() => setTimeout(() => performance.mark("{PAINT_MARK}")));
  }});
  watch.observe(document.documentElement, {{childList: true, subtree: true}});
}})();</script>"""

# group -> tab title; a group whose actions take a run gets a run chooser
GROUPS = {
    "classical": "Classical",
    "deform": "Deform",
    "generate": "Generate",
    "video": "Video",
    "restore": "Restore and edit",
}


class StudioState:
    """What the server keeps between requests: where runs and scratch files live, the limits, the jobs."""

    def __init__(self, runs_root: Path, work: Path, max_pixels: int, jobs: int = 1) -> None:
        self.runs_root = runs_root
        self.jobs_limit = jobs  # heavy actions at once, and trainings at once
        self.work = work
        self.max_pixels = max_pixels
        self.jobs: dict = {}
        self.lock = threading.Lock()
        self._models: dict[tuple[str, float], object] = {}
        # the run choosers, filled when a page loads: the runs are listed afresh for each page, and the page's
        # config does not change when a run is trained, so the front door's copy of it stays right (door.py)
        self.choosers: list = []

    def scratch(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.work))

    def upload(self, path, what: str) -> str:
        """An uploaded image file, refused past the pixel cap before anything decodes it."""
        if not path:
            raise InputError(f"give {what}")
        image_file_size(path, self.max_pixels)
        return str(path)

    def run(self, name) -> Path:
        if not name:
            raise InputError(f"choose a run (runs are read from {self.runs_root})")
        return runs.require_run(runs.run_under(self.runs_root, name))

    def capabilities(self, name) -> frozenset[str]:
        """What a run's family declares it can do, read from its config.json (no weights loaded)."""
        saved = runs.read_json(self.run(name) / runs.CONFIG)
        return MODEL_REGISTRY.get(saved.get("model")).model_class.capabilities

    def model(self, name):
        """A run's model, loaded once per version of its weights (a run still training is reloaded)."""
        path = self.run(name)
        key = (str(path), (path / runs.WEIGHTS).stat().st_mtime if (path / runs.WEIGHTS).exists() else 0.0)
        with self.lock:
            if key not in self._models:
                self._models = {k: v for k, v in self._models.items() if k[0] != key[0]}
                self._models[key] = load_run(path, device="cpu")[0]
            return self._models[key]

    def run_names(self) -> list[str]:
        return runs.find_runs(self.runs_root)


def build_studio(runs_root: str | os.PathLike = "runs", *, max_pixels: int = 16_000_000, jobs: int = 1):
    """The studio's ``gr.Blocks`` (not started): ``runs_root`` is the only folder runs are read from and written
    to; ``max_pixels`` caps uploaded images; ``jobs`` heavy actions run at once (the rest wait in a queue)."""
    if gr is None:
        raise InputError("the studio needs Gradio: pip install 'imsynth[studio]'")
    root = Path(runs_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="imsynth-studio-"))
    state = StudioState(root, work, max_pixels, jobs)
    sample = examples.write_examples(work / "examples")
    heavy = dict(concurrency_limit=jobs, concurrency_id="work")

    def run_choices():
        names = state.run_names()
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    with gr.Blocks(title="imsynth studio", analytics_enabled=False) as page:
        gr.Markdown(
            "# imsynth studio\nEvery action calls the same library as the `imsynth` command. "
            f"Runs are read from and written to `{root}`."
        )
        for group, label in GROUPS.items():
            with gr.Tab(label, id=group):
                _group(group, state, sample, heavy, run_choices)
        with gr.Tab("Train", id="train"):
            train_tab(state, run_choices)
        with gr.Tab("Runs", id="runs"):
            runs_tab(state, heavy, run_choices)

        def listed():
            return [gr.update(choices=state.run_names())] * len(state.choosers)

        page.load(listed, None, state.choosers, queue=False)
    page.imsynth_state = state
    return page


def _group(group: str, state: StudioState, sample: dict, heavy: dict, run_choices) -> None:
    """The forms of a group's actions; with a run chooser when they take a run, showing a run only what its
    family can use."""
    members = [action for action in ACTIONS if group in action.groups]
    run = about = None
    if any(param.kind == "run" and (param.required or action.needs) for action in members for param in action.params):
        with gr.Row():
            run = gr.Dropdown([], value=None, label="run", scale=4, elem_id=f"{group}-run")
            state.choosers.append(run)
            refresh = gr.Button("Refresh runs", scale=1)
        about = gr.Markdown("", elem_id=f"{group}-about")
        refresh.click(run_choices, None, run, queue=False)
    forms: list[Form] = [
        action_form(
            action,
            state,
            sample,
            heavy,
            run=run,
            prefix=None if action.groups[0] == group else f"{group}-{action.name}",
        )
        for action in members
    ]
    extra = []
    if group == "generate":
        extra = [(directions_tab(state, heavy, run), frozenset({"latent-features"}))]
    if run is None:
        return

    @guarded
    def chosen(name):
        capabilities = state.capabilities(name) if name else None
        described = ", ".join(sorted(capabilities)) if capabilities else ""
        shown = [f"**{name}** can: {described}" if name else ""]
        for form in forms:
            shown += form.updates(capabilities)
        shown += [gr.update(visible=capabilities is None or needs <= capabilities) for _, needs in extra]
        return shown

    targets = [about, *(c for form in forms for c in form.components), *(tab for tab, _ in extra)]
    run.change(chosen, run, targets, queue=False)
