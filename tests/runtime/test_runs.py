import os

import pytest

from imsynth.errors import InputError
from imsynth.runtime import runs


def _fake_run(path):
    path.mkdir(parents=True)
    (path / runs.CONFIG).write_text("{}")
    return path


def test_find_runs_lists_run_folders_two_levels_down(tmp_path):
    _fake_run(tmp_path / "vae")
    _fake_run(tmp_path / "study" / "trial-0000")
    _fake_run(tmp_path / "a" / "b" / "too-deep")
    (tmp_path / "not-a-run").mkdir()
    assert runs.find_runs(tmp_path) == ["vae", "study/trial-0000"]
    assert runs.find_runs(tmp_path / "missing") == []


def test_run_under_refuses_every_way_out_of_the_runs_folder(tmp_path):
    root = tmp_path / "runs"
    _fake_run(root / "vae")
    (tmp_path / "secret").mkdir()
    (root / "link").symlink_to(tmp_path / "secret")
    assert runs.run_under(root, "vae") == (root / "vae").resolve()
    assert runs.run_under(root, "new/name") == (root / "new" / "name").resolve()  # a run to be trained
    for name, message in (
        ("../secret", "outside the runs folder"),
        ("vae/../../secret", "outside the runs folder"),
        ("link", "outside the runs folder"),
        (str(tmp_path / "secret"), "give a run folder inside"),
        ("", "give a run folder inside"),
        (".", "outside the runs folder"),
    ):
        with pytest.raises(InputError, match=message):
            runs.run_under(root, name)


def test_locked_by_names_the_process_holding_a_run(tmp_path):
    run = tmp_path / "run"
    assert runs.locked_by(run) is None
    with runs.writer_lock(run):
        assert runs.locked_by(run) == os.getpid()
        with pytest.raises(InputError, match=f"another training is writing this run \\(process {os.getpid()}\\)"):
            with runs.writer_lock(run):
                pass
    assert runs.locked_by(run) is None  # released: the next training may take it
