"""The action table: one row makes the CLI command and the studio's form, with the same defaults, choices and
refusals; over the whole table, the declared defaults are the functions' own and no two parameters share a flag."""

import inspect
import json

import click
import pytest

from imsynth.apps.actions import ACTIONS
from imsynth.cli import cli
from imsynth.cli.actions import action_command
from imsynth.cli.studio import STUDIO
from imsynth.data import REGISTRY as DATASETS
from imsynth.errors import InputError
from imsynth.metrics.features import shipped_path
from imsynth.models import MODEL_REGISTRY, preset_budgets
from imsynth.tables import REQUIRED, Action, Param
from tests.helpers import assert_one_line_error, run_cli


def toy(image_path, out, *, colour="red", strength=2, method="nearest", **options):
    return {"colour": colour, "strength": strength, "method": method, **options}


TOY = Action(
    "toy-action",
    "tests.apps.test_actions:toy",
    "A toy action registered by a test.",
    (
        Param("image_path", default=REQUIRED, kind="image", positional=True),
        Param("out", default=REQUIRED, kind="out", flag="-o"),
        Param("colour", default="red", choices=("red", "green", "blue"), help="a colour"),
        Param("strength", int, 2, "how strong", low=1, high=5),
        Param("method", default="nearest", choices="imsynth.classical.resample:RESAMPLING", options="**"),
    ),
    reports=True,
    groups=("classical",),
    button="Toy",
)


@pytest.fixture
def registered():
    ACTIONS.add(TOY)
    yield TOY
    del ACTIONS._entries[TOY.name]


def _config_components(page) -> list[dict]:
    return [component.get("props", {}) for component in page.get_config_file()["components"]]


def test_a_toy_action_appears_in_the_cli_and_the_studio_with_the_same_defaults_and_choices(
    registered, capsys, tmp_path
):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "toy-action" in out and "A toy action registered by a test." in out
    code, out, _ = run_cli(capsys, "toy-action", "--help")
    assert code == 0 and "[default: red]" in out and "[default: 2]" in out and "[red|green|blue]" in out
    assert "[nearest|bilinear|bicubic|lanczos|area]" in out
    pytest.importorskip("gradio")
    from imsynth.studio import build_studio

    page = build_studio(str(tmp_path / "runs"))
    try:
        props = {
            p.get("elem_id"): p for p in _config_components(page) if (p.get("elem_id") or "").startswith("toy-action-")
        }
        assert props["toy-action-colour"]["value"] == "red"
        assert [c[0] for c in props["toy-action-colour"]["choices"]] == ["red", "green", "blue"]
        assert props["toy-action-strength"]["value"] == 2
        assert props["toy-action-method"]["value"] == "nearest"
        assert [c[0] for c in props["toy-action-method"]["choices"]] == list(
            ACTIONS.get("resize").param("method").values()
        )
    finally:
        page.close()


def test_the_table_refuses_a_value_out_of_range_or_choices_with_one_message(registered, capsys, tmp_path):
    code, _, err = run_cli(capsys, "toy-action", "x.png", "-o", str(tmp_path / "y.json"), "--strength", "9")
    assert_one_line_error(code, err, "--strength must be an integer from 1 to 5, got 9")
    with pytest.raises(InputError, match="--strength must be an integer from 1 to 5, got 9"):
        registered.bind({"image_path": "x.png", "out": "y", "strength": "9"})  # what the studio sends
    code, _, err = run_cli(capsys, "toy-action", "x.png", "-o", "y", "--colour", "mauve")
    assert_one_line_error(code, err, "--colour: 'mauve' is not one of red, green, blue")
    code, out, _ = run_cli(capsys, "toy-action", "x.png", "-o", "y", "--strength", "4")
    assert code == 0 and '"strength": 4' in out and '"colour": "red"' in out
    # from Python, the row runs the function with the same checks; method options are plain keywords
    assert registered(image_path="x.png", out="y", strength=4, method="area") == {
        "colour": "red",
        "strength": 4,
        "method": "area",
    }
    with pytest.raises(InputError, match="--colour: 'mauve' is not one of"):
        registered(image_path="x.png", out="y", colour="mauve")


@pytest.mark.parametrize("name", [*ACTIONS.names(), STUDIO.name])
def test_every_actions_defaults_are_its_functions_and_its_flags_are_distinct(name):
    action = STUDIO if name == STUDIO.name else ACTIONS.get(name)
    signature = inspect.signature(action.function)
    for param in action.params:
        declared = signature.parameters.get(param.name)
        assert declared is not None, (name, param.name)  # the table names the function's own keywords
        # the table's default is the function's own; a required parameter has none in the function either
        expected = inspect.Parameter.empty if param.required else param.default
        assert declared.default == expected, (name, param.name, declared.default, expected)
    command = action_command(action)
    flags = [flag for option in command.params if isinstance(option, click.Option) for flag in option.opts]
    assert len(flags) == len(set(flags)), sorted(flags)
    defaults = {p.name: p.default for p in command.params if isinstance(p, click.Option)}
    # the CLI takes the table's default (None from click means "the table's")
    for param in (p for p in action.params if not p.positional):
        assert defaults[param.name] in (None, param.default), (name, param.name)
    given = {p.name: p.values()[0] if p.choices else p.example or "x" for p in action.params if p.required}
    bound = action.bind(given)
    assert {p.name: bound[p.name] for p in action.params if not p.required} == action.defaults()


def test_a_fresh_process_offers_the_model_methods_that_live_above_the_classical_tables():
    """The choices are read from the apps-level tables, so a command run on its own (nothing else imported
    first) still offers the model methods; reading the classical tables alone lost them."""
    import subprocess
    import sys

    for command, method in (("inpaint", "|gan|"), ("denoise", "|encode-decode|")):
        shown = subprocess.run(
            [sys.executable, "-m", "imsynth.cli", command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert method in shown, (command, shown)


def test_the_studios_train_tab_offers_the_train_actions_parameters_with_its_defaults_and_choices(tmp_path):
    pytest.importorskip("gradio")
    from imsynth.studio import build_studio

    train = ACTIONS.get("train")
    page = build_studio(str(tmp_path / "runs"))
    try:
        props = {p.get("elem_id"): p for p in _config_components(page) if (p.get("elem_id") or "").startswith("train-")}
    finally:
        page.close()
    offered = {param.name.removesuffix("_path") for param in train.params if param.studio and param.kind != "path"}
    assert {f"train-{name}" for name in offered} <= set(props)
    for param in train.params:  # the server's own paths and the CLI's switches stay out of the page
        if not param.studio:
            assert f"train-{param.name}" not in props, param.name
    assert [c[0] for c in props["train-model"]["choices"]] == list(MODEL_REGISTRY.names())
    assert props["train-model"]["value"] == train.param("model").example
    assert [c[0] for c in props["train-preset"]["choices"]] == ["", *preset_budgets()]
    assert props["train-data"]["allow_custom_value"] and props["train-data"]["value"] == "digits"
    assert [c[0] for c in props["train-data"]["choices"]] == list(DATASETS.names())
    assert props["train-minutes"]["value"] == "1" and props["train-steps"]["value"] == ""


def _leaves(group: click.Group, ctx: click.Context, prefix: tuple = ()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _leaves(command, ctx, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


def test_every_command_with_options_is_made_from_a_row_and_two_word_rows_are_group_commands(capsys):
    rows = {action.name: action for action in ACTIONS} | {STUDIO.name: STUDIO}
    found = dict(_leaves(cli, click.Context(cli)))
    assert "features train" in found and "features list" in found and "demo" in found and "studio" in found
    for name, command in found.items():
        options = [param.name for param in command.params if param.name != "help"]
        if name in rows:  # the row's own parameters, in its order, and nothing else
            assert options == [p.name for p in action_command(rows[name]).params if p.name != "help"], name
        else:  # a listing: no options to write by hand
            assert options == [], (name, options)
    code, out, _ = run_cli(capsys, "features", "--help")
    assert code == 0 and "train" in out and "list" in out and "In-domain feature networks" in out
    code, out, _ = run_cli(capsys, "features", "list")
    assert code == 0 and out.strip(), out
    for line in out.strip().splitlines():
        assert json.loads(line)["test_accuracy"]
    code, _, err = run_cli(capsys, "features", "train", "--data", "digits", "--epochs", "0")
    assert_one_line_error(code, err, "--epochs must be an integer >= 1, got 0")
    shipped = shipped_path("digits", "vgg").read_bytes()
    code, _, err = run_cli(capsys, "features", "train", "--data", "digits", "--limit", "3")
    assert_one_line_error(code, err, "a network trained on part of the data is no shipped network: give --out")
    assert shipped_path("digits", "vgg").read_bytes() == shipped  # the shipped network is untouched
    assert ACTIONS.get("features train").command_line({"data": "digits", "epochs": 2}) == [
        "features", "train", "--data", "digits", "--epochs", "2"
    ]  # fmt: skip
