"""The studio's Train and Runs tabs: training in a background process (``imsynth train``, the same command a
user types), its progress read back from the run folder, and what a run holds (samples, curves, config, guard
events) with its evaluation (the ``eval`` action's form)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ..apps.actions import ACTIONS
from ..apps.actions.train import TRAIN
from ..apps.jobs import run_status, start_training, stop_holder
from ..data import list_datasets
from ..errors import ImsynthError, InputError
from ..runtime import runs
from .controls import gr
from .forms import action_form, value_control
from .widgets import guarded

# what Resume takes (the command needs the model; a budget is optional): the run keeps its data, seed and settings
RESUME_TAKES = ("model", "steps", "epochs", "minutes")


# ------------------------------------------------------------------------------------------------------- train
def train_tab(state, run_choices) -> None:
    """The ``train`` action's controls (its row of the action table, as the CLI's options), a run name under the
    runs folder for its ``--out``, and Start / Stop / Resume for a training in the background."""
    shown = [param for param in TRAIN.params if param.studio and param.kind != "path"]
    controls = []
    with gr.Row():
        name = gr.Textbox("studio-vae", label="run name (a folder under the runs folder)", elem_id="train-name")
        for param in shown[:3]:
            controls.append(value_control(param, "train", {}))
    for row in range(3, len(shown), 4):
        with gr.Row():
            for param in shown[row : row + 4]:
                controls.append(value_control(param, "train", {}))
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
    def begin(text, *values, again=False):
        path = run_path(text)
        given = {param.name: value for param, value in zip(shown, values) if value not in (None, "")}
        if again:
            given = {key: value for key, value in given.items() if key in RESUME_TAKES}
        model = given.pop("model", None)
        checked = TRAIN.bind({"model": model, "out": str(path), "resume": again, **given})  # the CLI's messages
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
            state.jobs[path] = start_training(
                checked["model"], path, resume=again, wait=3.0, **{key: checked[key] for key in given}
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
    start.click(begin, [name, *controls], outputs, trigger_mode="multiple")
    resume.click(functools.partial(begin, again=True), [name, *controls], outputs)
    stop.click(halt, name, outputs)
    timer.tick(show, name, outputs, queue=False)


# -------------------------------------------------------------------------------------------------------- runs
def runs_tab(state, heavy: dict, run_choices):
    with gr.Row():
        run = gr.Dropdown([], value=None, label="run", scale=4, elem_id="runs-run")
        state.choosers.append(run)
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
