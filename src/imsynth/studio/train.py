"""The studio's Train and Runs tabs: training in a background process (``imsynth train``, the same command a
user types), its progress read back from the run folder, and what a run holds (samples, curves, config, guard
events) with its evaluation (the ``eval`` action's form)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ..apps.actions import ACTIONS
from ..apps.jobs import run_status, start_training, stop_holder
from ..data import REGISTRY as DATASETS
from ..data import list_datasets
from ..errors import ImsynthError, InputError
from ..models import MODEL_REGISTRY, PRESETS, get_preset
from ..runtime import runs
from ..tables import typed
from .controls import gr
from .forms import action_form
from .widgets import guarded, optional_number


# ------------------------------------------------------------------------------------------------------- train
def train_tab(state, run_choices) -> None:
    with gr.Row():
        model = gr.Dropdown(
            list(MODEL_REGISTRY.names()), value="vae", label="model", info="see `imsynth models` for each one's config"
        )
        data = gr.Dropdown(
            list(DATASETS.names()),
            value="digits",
            label="dataset",
            allow_custom_value=True,
            info="or folder:PATH, npz:PATH, text:PATH on this machine",
        )
        name = gr.Textbox("studio-vae", label="run name (a folder under the runs folder)", elem_id="train-name")
    with gr.Row():
        minutes = optional_number("minutes (empty: use steps)", "1", elem_id="train-minutes")
        steps = optional_number("steps", elem_id="train-steps")
        seed = gr.Number(0, label="seed", precision=0)
    with gr.Row():
        preset = gr.Dropdown(
            ["", *sorted({p.budget for p in PRESETS})],
            value="",
            label="preset (settings tuned for a budget; see `imsynth models`)",
            scale=1,
            elem_id="train-preset",
        )
        settings = gr.Textbox(
            "", label="--set options, one KEY=VALUE per line (after the preset)", lines=3, elem_id="train-set", scale=3
        )
    with gr.Row():
        start = gr.Button("Start", variant="primary")
        stop = gr.Button("Stop (writes a checkpoint)")
        resume = gr.Button("Resume")
    with gr.Accordion("Datasets on this machine (imsynth datasets)", open=False):
        gr.Dataframe(
            [[row["name"], "yes" if row["available"] else "no", row["size"], row["where"]] for row in list_datasets()],
            headers=["dataset", "here", "size", "where (or how to get it)"],
            interactive=False,
        )
    progress = gr.Markdown("", elem_id="train-progress")
    with gr.Row():
        samples = gr.Image(label="latest samples", interactive=False, elem_id="train-samples")
        curves = gr.Image(label="curves", interactive=False)
    log = gr.Textbox(label="log", lines=6, max_lines=12)
    timer = gr.Timer(2.0)

    def run_path(text: str) -> Path:
        return runs.run_under(state.runs_root, (text or "").strip())

    @guarded
    def begin(chosen_model, chosen_data, text, m, k, s, budget, lines, again=False):
        path = run_path(text)
        with state.lock:
            job = state.jobs.get(path)
            if job is not None and job.running:
                raise InputError(f"{path}: this run is already training here; stop it first")
            running = sum(job.running for job in state.jobs.values())
            if running >= state.jobs_limit:
                raise InputError(
                    f"{running} training(s) already running (the studio's limit, --jobs {state.jobs_limit}); "
                    "stop one first"
                )
            assignments = [line.strip() for line in (lines or "").splitlines() if line.strip()]
            if budget:
                assignments = [*get_preset(chosen_model, budget).settings, *assignments]
            state.jobs[path] = start_training(
                chosen_model,
                path,
                resume=again,
                data=None if again else chosen_data,
                minutes=None if not m else typed(float, m, "minutes"),
                steps=None if not k else typed(int, k, "steps"),
                seed=None if again else int(s or 0),
                assignments=() if again else assignments,
                wait=3.0,
            )
        return show(text)

    @guarded
    def halt(text):
        path = run_path(text)
        job = state.jobs.get(path)
        if job is not None and job.running:
            job.stop()
        elif not stop_holder(path):  # a training this studio did not start (or started before a restart)
            raise InputError(f"{path}: no training of this run is running here")
        return show(text)

    def show(text):
        try:
            path = run_path(text)
        except ImsynthError:
            return "", None, None, ""
        job = state.jobs.get(path)
        status = job.status() if job is not None else run_status(path)
        budget = ", ".join(f"{k} {v}" for k, v in status["budget"].items()) or "no budget yet"
        running = status.get("running", status["held_by"] is not None)
        line = f"**{'training' if running else 'not training'}** — step {status['step']} ({budget})"
        last = status["last"]
        shown = [
            f"{k} {v:.4g}" for k, v in last.items() if isinstance(v, float) and k.startswith(("loss", "fid", "kl"))
        ]
        if shown:
            line += " — " + ", ".join(shown[:4])
        if status.get("exit_code") not in (None, 0):
            line += f" — exited with code {status['exit_code']}"
        return line, status["samples"], status["curves"], status.get("log", "")

    outputs = [progress, samples, curves, log]
    # "multiple": a second click while the first start is still settling is answered (with the refusal)
    start.click(begin, [model, data, name, minutes, steps, seed, preset, settings], outputs, trigger_mode="multiple")
    resume.click(
        functools.partial(begin, again=True), [model, data, name, minutes, steps, seed, preset, settings], outputs
    )
    stop.click(halt, name, outputs)
    timer.tick(show, name, outputs, queue=False)


# -------------------------------------------------------------------------------------------------------- runs
def runs_tab(state, heavy: dict, run_choices):
    with gr.Row():
        run = gr.Dropdown(state.run_names(), value=None, label="run", scale=4, elem_id="runs-run")
        refresh = gr.Button("Refresh runs", scale=1)
    refresh.click(run_choices, None, run, queue=False)
    with gr.Row():
        samples = gr.Image(label="latest samples", interactive=False, elem_id="runs-samples")
        curves = gr.Image(label="curves", interactive=False)
    with gr.Row():
        config = gr.JSON(label="config.json")
        events = gr.JSON(label="guard and advice events")
    metrics = gr.JSON(label="last saved evaluation (eval.json)", elem_id="runs-metrics")
    evaluation = action_form(ACTIONS.get("eval"), state, {}, heavy, run=run)

    @guarded
    def report(name):
        if not name:
            return None, None, None, None, None
        path = state.run(name)
        status = run_status(path)
        evaluation = path / "eval.json"
        saved = json.loads(evaluation.read_text()) if evaluation.is_file() else None
        return status["samples"], status["curves"], runs.read_json(path / runs.CONFIG), status["events"], saved

    run.change(report, run, [samples, curves, config, events, metrics])
    return evaluation
