"""Text runs from the command line: sample, reconstruct, explore, eval; and every bad input of issue 15."""

import json
import math

import numpy as np
import pytest

from imsynth.data import load_dataset
from imsynth.image import save_image
from tests.helpers import assert_one_line_error, run_cli, tiny_sentences


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("textcli")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(tiny_sentences(300)) + "\n")
    from imsynth.cli import main

    out = root / "run"
    args = ["train", "text-vae", "--data", f"text:{corpus}?max_tokens=10", "--out", str(out), "--steps", "40"]
    args += ["--set", "embed_dim=16", "--set", "hidden=16", "--set", "latent_dim=4", "--set", "kl_warmup=10", "--quiet"]
    main(args)  # returns normally on success (SystemExit only on errors)
    return out, corpus


def test_sample_prints_sentences(text_run, capsys, tmp_path):
    run, _ = text_run
    code, out, err = run_cli(capsys, "sample", str(run), "-n", "7", "--top-p", "0.9", "--seed", "3")
    assert code == 0, err
    lines = out[:-1].split("\n")  # one line per sentence (an empty sentence is an empty line)
    assert len(lines) == 7
    code, again, _ = run_cli(capsys, "sample", str(run), "-n", "7", "--top-p", "0.9", "--seed", "3")
    assert again == out  # the seed decides
    # greedy decoding takes the most likely word at each step, so temperature and top-p cannot change it; they do
    # change sampled sentences
    greedy = [
        run_cli(capsys, "sample", str(run), "-n", "7", "--greedy", "--seed", "3", *extra)[1]
        for extra in ([], ["--temperature", "3"], ["--top-p", "0.5", "--temperature", "0.2"])
    ]
    assert greedy[0] == greedy[1] == greedy[2] and len(greedy[0][:-1].split("\n")) == 7
    hot = run_cli(capsys, "sample", str(run), "-n", "7", "--seed", "3", "--temperature", "3")[1]
    assert hot != out
    code, out, err = run_cli(capsys, "sample", str(run), "-n", "4", "-o", str(tmp_path / "s.txt"))
    assert code == 0, err
    assert len((tmp_path / "s.txt").read_text()[:-1].split("\n")) == 4


def test_reconstruct_explore_and_eval(text_run, capsys):
    run, corpus = text_run
    code, out, err = run_cli(capsys, "reconstruct", str(run), "The cat likes a tree.", "--samples", "2")
    assert code == 0, err
    report = json.loads(out)
    assert report["as_read"] == "the cat likes a tree." and len(report["samples"]) == 2
    assert isinstance(report["reconstruction"], str)
    code, out, err = run_cli(
        capsys,
        "explore",
        str(run),
        "--mode",
        "lerp",
        "--from",
        "the cat sees the ball .",
        "--to",
        "a dog eats some bread .",
        "--steps",
        "5",
    )
    assert code == 0, err
    path = out[:-1].split("\n")
    assert len(path) == 5
    # the path's ends are the greedy decodings of the two sentences' posterior means, as reconstruct gives them
    for end, sentence in ((path[0], "the cat sees the ball ."), (path[-1], "a dog eats some bread .")):
        code, out, err = run_cli(capsys, "reconstruct", str(run), sentence)
        assert end == json.loads(out)["reconstruction"]
    code, out, err = run_cli(capsys, "eval", str(run), "--k", "8", "--likelihood-images", "10")
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == "text-vae" and report["importance_samples"] == 8 and report["sentences"] == 10
    for key in ("nll", "perplexity", "elbo", "kl", "mutual_information", "active_units"):
        assert np.isfinite(report[key]), key
    assert report["nll"] <= report["rec"] + report["kl"] + 1e-3
    # bits per character: the NLL over the test sentences' characters (one more each for its end), no unknowns here
    texts = load_dataset(f"text:{corpus}?max_tokens=10").extra["test_text"][:10]
    assert report["unknown_tokens"] == 0 and report["characters"] == sum(len(t) + 1 for t in texts)
    assert report["bits_per_char"] == pytest.approx(report["nll"] * 10 / math.log(2) / report["characters"])


def test_text_bad_inputs(text_run, vae_run, capsys, tmp_path):
    run, corpus = text_run
    code, _, err = run_cli(capsys, "reconstruct", str(run), "zebra xylophone")
    assert_one_line_error(code, err, "every word of 'zebra xylophone' is unknown")
    code, _, err = run_cli(capsys, "reconstruct", str(vae_run), "the cat")
    assert_one_line_error(code, err, "holds the image model 'vae'", "needs a text run")
    code, _, err = run_cli(capsys, "explore", str(vae_run), "--from", "the cat", "-o", str(tmp_path / "x.png"))
    assert_one_line_error(code, err, "--from and --to are sentences for text runs")
    code, _, err = run_cli(
        capsys, "sample", str(vae_run), "-n", "2", "--temperature", "0.5", "-o", str(tmp_path / "g.png")
    )
    assert_one_line_error(code, err, "apply to text runs")
    code, _, err = run_cli(capsys, "sample", str(run), "-n", "2", "--temperature", "0")
    assert_one_line_error(code, err, "temperature must be > 0")
    code, _, err = run_cli(capsys, "explore", str(run), "--mode", "walk")
    assert_one_line_error(code, err, "unknown interpolation 'walk'; valid: lerp, slerp")
    # a text run for image commands
    save_image(tmp_path / "in.png", np.full((8, 8), 0.5))
    code, _, err = run_cli(
        capsys, "translate", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), "--model", str(run)
    )
    assert_one_line_error(code, err, "text-vae", "does not translate images")
    code, _, err = run_cli(
        capsys, "compress", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.isz"), "--model", str(run)
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.isz").exists()
    # models and data of the other kind
    code, _, err = run_cli(capsys, "train", "text-vae", "--data", "digits", "--out", str(tmp_path / "r1"))
    assert_one_line_error(code, err, "model text-vae trains on text", "digits holds images")
    code, _, err = run_cli(capsys, "train", "vae", "--data", f"text:{corpus}", "--out", str(tmp_path / "r2"))
    assert_one_line_error(code, err, "model vae trains on images", "holds text")


def test_a_language_model_run_samples_and_scores_but_has_no_code(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(tiny_sentences(300)) + "\n")
    run = tmp_path / "lm"
    code, _, err = run_cli(capsys, "train", "text-lm", "--data", f"text:{corpus}?max_tokens=10", "--out", str(run),
                           "--steps", "100", "--set", "embed_dim=16", "--set", "hidden=16", "--set", "train.lr=5e-3",
                           "--quiet")  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(capsys, "sample", str(run), "-n", "5", "--seed", "1")
    assert code == 0, err
    assert len(out[:-1].split("\n")) == 5 and run_cli(capsys, "sample", str(run), "-n", "5", "--seed", "1")[1] == out
    code, out, err = run_cli(capsys, "eval", str(run), "--likelihood-images", "10")
    report = json.loads(out)
    assert report["model"] == "text-lm" and "kl" not in report and report["sentences"] == 10
    # the exact NLL of a model that learnt something: below the uniform choice over its vocabulary per token
    assert report["perplexity"] < report["vocab_size"]
    for command in (["reconstruct", str(run), "the cat sees the ball ."],
                    ["explore", str(run), "--from", "the cat sees the ball .", "--to", "a dog eats some bread ."]):  # fmt: skip
        code, _, err = run_cli(capsys, *command)
        assert_one_line_error(code, err, "model 'text-lm' has no sentence code; this command needs text-vae")
