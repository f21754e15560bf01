"""Inputs made by others (issue 14): metrics fed non-finite or mis-nested values, text as people type it,
device strings, checkpoints saved in one format and then another. Each case of ../shared/cases/metrics is
here with the right value or error; other inputs of the same kind are generated."""

import unicodedata

import numpy as np
import pytest
import torch

import helpers
from helpers import caption_metrics, checkpoints
from helpers import device as dev
from helpers import metrics as M
from helpers import text as T


# ------------------------------------------------------------------------------------- metrics: non-finite
@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["all", "one_row", "items"])
def test_ranks_refuse_non_finite_values(metric, bad, where):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 8)).astype(np.float32)
    x = rng.normal(size=(50, 8)).astype(np.float32)
    if where == "all":
        q[:] = bad
    elif where == "one_row":
        q[7, 3] = bad
    else:
        x[11, 0] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        M.ranks(q, x, np.arange(50), metric=metric)


def test_nan_case_of_the_report_no_longer_scores_perfect_recall():
    """uma-pi1/kge#220: NaN predictions used to get recall@1 = 1.0 (NaN < x is False for every item)."""
    nan_q = np.full((100, 8), np.nan, np.float32)
    items = np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32)
    with pytest.raises(ValueError, match="row"):
        helpers.retrieval_metrics(helpers.ranks(nan_q, items, np.arange(100)))


def test_devise_hits_refuse_nan_embeddings():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="NaN"):
        M.flat_hits(np.full((30, 8), np.nan, np.float32), rng.normal(size=(10, 8)), rng.integers(0, 10, 30))


def test_finite_inputs_still_rank_as_before():
    rng = np.random.default_rng(1)
    q, x = rng.normal(size=(20, 4)), rng.normal(size=(30, 4))
    r = M.ranks(q, x, np.arange(20))
    d = ((q[:, None] - x[None]) ** 2).sum(-1)
    expected = [int((d[i] < d[i, i]).sum()) + 1 for i in range(20)]
    assert r.tolist() == expected


@pytest.mark.parametrize("r", [[1, np.nan, 2], [1, np.inf], [0, 1, 2]])
def test_retrieval_metrics_refuse_impossible_ranks(r):
    with pytest.raises(ValueError):
        M.retrieval_metrics(r)


# ------------------------------------------------------------------------------------------- metrics: BLEU
HYP = [["a", "dog", "runs", "on", "the", "grass"]]


@pytest.mark.parametrize(
    "refs, hyps, match",
    [
        ([["a dog runs on the grass"]], ["a god nurs no het rgass"], "hypotheses\\[0\\] is a string"),
        ([["a dog runs on the grass"]], HYP, "references\\[0\\]\\[0\\] is a string"),
        ([HYP[0]], HYP, "one token list"),  # nltk/nltk#1285: a level missing
        (["a dog runs"], HYP, "references\\[0\\] is a string"),
        ([[HYP[0]]], [[1, 2, 3]], "list of tokens"),
        ([[[1, 2]]], HYP, "list of tokens"),
        ("a dog", HYP, "takes lists"),
    ],
)
def test_bleu_refuses_inputs_nltk_would_score_as_characters(refs, hyps, match):
    with pytest.raises(TypeError, match=match):
        caption_metrics.bleu(refs, hyps)


def test_bleu_refuses_mismatched_or_empty_references():
    with pytest.raises(ValueError, match="2 reference sets but 1"):
        caption_metrics.bleu([[HYP[0]], [HYP[0]]], HYP)
    with pytest.raises(ValueError, match="non-empty"):
        caption_metrics.bleu([[]], HYP)


def test_bleu_equals_four_separate_nltk_calls():
    """One corpus_bleu call with four weight vectors gives nltk's own four numbers (tuples accepted too)."""
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    rng = np.random.default_rng(0)
    words = ["a", "dog", "cat", "red", "on", "the", "grass", "two", "big"]
    refs = [
        [[str(w) for w in rng.choice(words, rng.integers(3, 9))] for _ in range(rng.integers(1, 5))] for _ in range(40)
    ]
    hyps = [tuple(str(w) for w in rng.choice(words, rng.integers(1, 9))) for _ in range(40)]
    got = caption_metrics.bleu(refs, hyps)
    for n, w in enumerate(caption_metrics.BLEU_WEIGHTS, start=1):
        want = corpus_bleu(refs, hyps, weights=w, smoothing_function=SmoothingFunction().method1)
        assert got[f"bleu{n}"] == pytest.approx(want, rel=1e-12, abs=1e-15)


# --------------------------------------------------------------------------------------- text as typed
@pytest.mark.parametrize("form", ["NFD", "NFKD"])
def test_tokenize_normalizes_decomposed_accents(form):
    nfc = "Un niño pequeño junto al árbol; CAFÉ crème."
    assert T.tokenize(unicodedata.normalize(form, nfc), "es") == T.tokenize(nfc, "es")
    vocab = T.Vocabulary.build([T.tokenize(nfc, "es")])
    assert vocab.unk not in vocab.encode(T.tokenize(unicodedata.normalize(form, nfc), "es"))


@pytest.mark.parametrize("query", [None, 3, 2.5, ["a", "dog"], b"dog", {"q": 1}])
def test_non_string_queries_get_a_type_error(query):
    with pytest.raises(TypeError, match="must be a string"):
        T.tokenize(query)
    with pytest.raises(TypeError, match="must be a string"):
        T.lookup(_toy_vectors(), query)


def _toy_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["Paris", "paris", "niño", "dog"], np.array([[1, 0], [0, 1], [1, 1], [2, 2]], np.float32))
    return kv


def test_lookup_tries_the_word_as_written_then_lower_cased_and_nfc():
    kv = _toy_vectors()
    assert T.lookup(kv, "Paris").tolist() == [1, 0]  # cased file: the capitalized entry
    assert T.lookup(kv, "paris").tolist() == [0, 1]
    assert T.lookup(kv, " DOG ").tolist() == [2, 2]  # not there as written: lower-cased
    assert T.lookup(kv, unicodedata.normalize("NFD", "niño")).tolist() == [1, 1]
    with pytest.raises(helpers.UnknownWordError, match="'cat'"):
        T.lookup(kv, "Cat")
    with pytest.raises(ValueError, match="empty"):
        T.lookup(kv, "   ")


# -------------------------------------------------------------------------------------------- devices
@pytest.mark.parametrize("bad", ["cudaXYZ", "cuda:abc", "cuda:-1", "tpu", "", "gpu", "cuda:", "cuda:0:1", None, 0])
def test_invalid_device_strings_name_the_valid_forms(bad):
    with pytest.raises(ValueError, match="'auto', 'cpu', 'cuda' or 'cuda:N'"):
        dev.pick_device(bad, verbose=False)


@pytest.mark.parametrize("ok", ["auto", "cpu", "CUDA", " cuda:0 ", "cuda:3", torch.device("cpu")])
def test_valid_device_strings_parse(ok):
    assert dev.parse_device(ok) in ("auto", "cpu", "cuda", "cuda:0", "cuda:3")


@pytest.mark.skipif(torch.cuda.is_available(), reason="the fallback is for machines without CUDA")
@pytest.mark.parametrize("ask", ["cuda", "cuda:1"])
def test_cuda_request_without_a_gpu_falls_back_in_one_line(ask, capsys):
    assert dev.pick_device(ask).type == "cpu"
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "running on the CPU" in out[0]


# ---------------------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize(
    "first, second",
    [("safetensors", "torch"), ("torch", "safetensors"), ("torch", "torch"), ("safetensors", "safetensors")],
)
def test_checkpoint_folder_loads_what_was_saved_last(tmp_path, first, second):
    vocab = T.Vocabulary.build([["a", "dog"]])
    checkpoints.save_checkpoint(tmp_path, {"w": torch.zeros(3)}, vocab, {"step": 1}, format=first)
    checkpoints.save_checkpoint(tmp_path, {"w": torch.ones(3)}, vocab, {"step": 2}, format=second)
    ck = checkpoints.load_checkpoint(tmp_path)
    assert ck.config["step"] == 2 and ck.config["weights_format"] == second
    assert torch.equal(ck.state_dict["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["config.json", "vocab.json", {"safetensors": "model.safetensors", "torch": "model.pt"}[second]]
    )


def test_checkpoint_config_naming_a_missing_weights_file_says_so(tmp_path):
    vocab = T.Vocabulary.build([["a"]])
    checkpoints.save_checkpoint(tmp_path, {"w": torch.zeros(1)}, vocab, {}, format="torch")
    (tmp_path / "model.pt").unlink()
    with pytest.raises(FileNotFoundError, match="model.pt"):
        checkpoints.load_checkpoint(tmp_path)


# ---------------------------------------------------------- more inputs of the same kinds (user check)
def test_finite_values_whose_distances_overflow_raise():
    rng = np.random.default_rng(0)
    q, x = rng.normal(size=(20, 8)) * 1e20, rng.normal(size=(30, 8)) * 1e20
    with pytest.raises(ValueError, match="overflow"):
        M.ranks(q, x, np.arange(20))
    with pytest.raises(ValueError, match="overflow"):
        M.distances(q, x)


def test_chapter_02_search_metrics_refuse_nan():
    rng = np.random.default_rng(0)
    emb, labels = rng.normal(size=(10, 4)), np.arange(10)
    with pytest.raises(ValueError, match="NaN"):
        M.search_precision(emb, np.full((3, 4), np.nan), labels, np.arange(3), k=5)
    with pytest.raises(ValueError, match="NaN"):
        M.top_k(np.full(4, np.nan), emb)


def test_bleu_refuses_character_tokens_and_nothing_to_score():
    with pytest.raises(TypeError, match="blank token"):
        caption_metrics.bleu([[list("a dog runs")]], [list("a god nurs")])
    with pytest.raises(ValueError, match="no hypotheses"):
        caption_metrics.bleu([], [])


def test_ranks_targets_and_rank_values_are_checked():
    x = np.eye(4, dtype=np.float32)
    with pytest.raises(ValueError, match="index the 4 items"):
        M.ranks(x, x, [0, 1, 2, 4])
    with pytest.raises(TypeError, match="integer item indices"):
        M.ranks(x, x, [0.0, 1.7, 2.0, 3.0])
    with pytest.raises(TypeError, match="must be numbers"):
        M.retrieval_metrics(["1", "2"])


def test_vocabulary_encode_refuses_a_string():
    vocab = T.Vocabulary.build([["un", "niño"]])
    with pytest.raises(TypeError, match="tokenize"):
        vocab.encode("un niño")


# --------------------------------------------------------------------------- a second round of inputs
def test_label_vectors_refuse_a_string_of_names():
    from helpers.vectorcache import keyed_vectors

    kv = keyed_vectors(["cat", "c", "d", "o", "g"], np.eye(5, dtype=np.float32))
    for names in ("first", "all"):
        with pytest.raises(TypeError, match=r"words\['n1'\] must be a list of names"):
            T.label_vectors(kv, ["n1"], {"n1": "cat"}, names=names)  # it was read as the names c, a, t
    assert T.label_vectors(kv, ["n1"], {"n1": ["cat"]})[1] == ["cat"]


def test_bleu_refuses_an_empty_reference_but_scores_an_empty_hypothesis():
    with pytest.raises(ValueError, match=r"references\[0\]\[1\] has no tokens"):
        M.bleu([[["a", "dog"], []]], [["a", "dog"]])
    assert M.bleu([[["a", "dog"]]], [[]])["bleu4"] == 0.0  # the model said nothing: it scores 0


def test_cider_needs_two_images():
    ref = ["a", "cat", "sits"]
    with pytest.raises(ValueError, match="at least 2 images"):
        caption_metrics.cider([[ref]], [ref])  # idf = 0 for every n-gram: a perfect caption scored 0.0
    assert caption_metrics.cider([[ref], [["a", "dog"]]], [ref, ["a", "dog"]]) > 1


@pytest.mark.parametrize("chunk, error", [(-1, ValueError), (0, ValueError), (2.5, TypeError)])
def test_ranks_refuse_a_chunk_that_is_not_a_positive_int(chunk, error):
    q = np.eye(4, dtype=np.float32)
    with pytest.raises(error, match="chunk"):
        M.ranks(q, q, np.arange(4), chunk=chunk)  # chunk=-1 returned no ranks at all


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("config.json", "{hidden: 8", "config.json: not JSON"),
        ("config.json", "[1]", "config.json: expected a JSON object, got list"),
        ("vocab.json", '["<pad>"]', "vocab.json: expected a JSON object"),
        ("vocab.json", '{"itos": "abc"}', "vocab.json: 'itos' is not a list of words"),
        ("vocab.json", '{"itos": ["a"]}', "vocab.json: a Vocabulary starts with"),
        ("model.safetensors", "garbage", "model.safetensors: not a readable safetensors file"),
    ],
)
def test_a_damaged_checkpoint_names_its_file(tmp_path, name, text, match):
    vocab = T.Vocabulary(["<pad>", "<start>", "<end>", "<unk>"])
    folder = checkpoints.save_checkpoint(tmp_path / "ck", torch.nn.Linear(2, 3), vocab, {})
    (folder / name).write_text(text)
    with pytest.raises(ValueError, match=match):
        checkpoints.load_checkpoint(folder)


def test_a_cache_folder_that_is_not_ours_to_write_says_what_to_do(monkeypatch, capsys):
    """A shared, read-only cache (tested as root, so the refusal is simulated): one line naming the variable."""
    from helpers import download
    from helpers.__main__ import main

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", "/srv/shared-cache/embedded")

    monkeypatch.setattr(download, "status", refuse)
    assert main(["datasets"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Permission denied" in err[0] and "set SEEING_SAYING_CACHE" in err[0], err
    monkeypatch.setattr(download, "fetch", refuse)
    assert main(["fetch", "coco"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "set SEEING_SAYING_CACHE" in err[0], err
