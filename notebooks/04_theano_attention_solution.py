# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Attention captioning in Theano + Lasagne: solutions
#
# This is the attention seminar of the book, in the framework it was first written for. A decoder writes a
# caption one word at a time; before each word it *looks* at the image: it scores every position of a CNN
# feature map against what it has written so far, turns the scores into attention probabilities, and reads
# the attended feature vector {cite}`xu2015show,bahdanau2015neural`. Here the decoder is built with
# **Lasagne** layers and compiled by **Theano** {cite}`dieleman2015lasagne,theano2016`: you describe the whole
# computation as a symbolic graph, Theano optimizes it, writes C code for it, compiles it with `g++`, and
# only then does a single number get computed. The chapter {doc}`04_attention_exercise` builds nearly the
# same model in PyTorch; the page {doc}`../book/theano_vs_pytorch` puts the two side by side.
#
# **Learning goals**
#
# - write soft attention (probabilities over image positions and the attended vector) with Lasagne layers;
# - build a recurrent decoder from *one step* and a Python loop over time steps, and see what Theano does
#   with it: a symbolic graph, compiled once, cached on disk;
# - train it with a masked cross-entropy (padding `-1`) and Adam, then generate captions with a temperature
#   and look at where the model attends.
#
# **Prerequisites:** the PyTorch attention chapter (or the seminar this page comes from), NumPy.
# **Run time** (measured by `make bench` on the solution notebook, 2 CPU cores; see {doc}`../book/performance`):
# about 3 minutes with an empty Theano compile cache, much of it `g++` compiling the graph, and about a minute
# and a half once the cache is warm. This edition runs on the CPU only.
#
# Three code cells are exercises: the attention probabilities, the attended vector, and sampling with a
# temperature. In the student notebook ({doc}`04_theano_attention_exercise`) they say `# YOUR CODE HERE` and
# raise `NotImplementedError`; the solutions page ({doc}`04_theano_attention_solution`) has them filled in.
# The **check** cell after each exercise passes once your version is right. The cells that need the finished
# exercises (the decoder, training, evaluation) are not executed on the book's student page: run them in
# Jupyter once the checks pass.

# %%
import os

# One BLAS thread, set before NumPy is imported: with two thread pools (NumPy's and
# Theano's calls into it) fighting over two cores, Theano steps run 2-3x slower.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

# %% tags=["parameters"]
# Parameters (papermill can override this cell: `papermill -p EPOCHS 20 ...`)
# real datasets ("coco", "flickr8k", ...): see the appendix
# "Running on real data and GPUs"
DATASET = "embedded"
# a folder holding a copy of the dataset, read as it is (no download);
# None: the cache's copy
DATA_DIR = None
# "en" or "es": the captions the decoder learns to write (coco and flickr8k: "en")
LANGUAGE = "en"
# the CNN of the feature maps; "resnet152" (7 x 7 grid) needs its weights once
BACKBONE = "efficientnet_lite0"
# Theano runs on the CPU in this edition (its GPU backend, pygpu, is not installed)
DEVICE = "auto"
EPOCHS = 10  # as in the seed, an "epoch" is BATCHES_PER_EPOCH random batches
BATCHES_PER_EPOCH = 60
BATCH_SIZE = 32
LEARNING_RATE = 0.006
# 2 averages 2x2 cells of the 8x8 grid: 16 positions, a cheaper attention, coarser maps
FEATURE_POOL = 1
SEED = 0

# %%
import sys
import textwrap
import time

from helpers import (
    # first: the shims must be in place before NumPy, Theano and Lasagne load
    theano_compat,
)

lasagne = (
    theano_compat.import_lasagne()
)  # the documented shims, THEANO_FLAGS (floatX=float32, compile cache), Lasagne

import matplotlib.pyplot as plt
import numpy as np
import theano
import theano.tensor as T
from lasagne.layers import (
    DenseLayer,
    EmbeddingLayer,
    InputLayer,
    Layer,
    MergeLayer,
    NonlinearityLayer,
    concat,
    dimshuffle,
    get_all_params,
    get_output,
    get_output_shape,
    reshape,
)

import helpers
from helpers import batching, caption_metrics, grammar, plots, widgets

sys.setrecursionlimit(
    20000
)  # Theano walks deep graphs recursively (the unrolled decoder is one)
np.random.seed(SEED)
lasagne.random.set_rng(
    np.random.RandomState(SEED)
)  # the initial weights of every layer
if str(DEVICE).lower() not in ("auto", "cpu"):
    print(
        f"DEVICE={DEVICE!r}: this edition runs Theano on the CPU "
        "(the PyTorch edition uses GPUs)."
    )
print(
    f"Theano {theano.__version__}, Lasagne {lasagne.__version__}, "
    f"floatX={theano.config.floatX}"
)
print(f"compiled C code is cached in {theano.config.base_compiledir}")

# Every theano.function below is compiled in this mode: Theano's default optimizations
# except the in-place ones. In-place variants of operations are extra C modules to
# compile (15 fewer here, about 20 s of g++ on an empty cache) and make no measurable
# difference to a training step of this small model.
COMPILE_MODE = theano.compile.get_default_mode().excluding("inplace")
# The exercise checks run tiny graphs once: Theano's Python implementations, no C code
# and no g++ at all.
CHECK_MODE = theano.compile.Mode(linker="py", optimizer="fast_compile")

# %% [markdown]
# ## Data
#
# The seed loaded a matrix of GoogLeNet features, `128 x 6 x 6` per image, and lists of captions. We use the
# book's embedded scenes and their EfficientNet-Lite0 feature maps {cite}`tan2019efficientnet`: `112`
# channels on an `8 x 8` grid for a `128 x 128` image, so each of the 64 positions sees a `16 x 16` pixel cell.
# The maps are stored as `float16`; Theano computes in `float32` (`floatX`), and we standardize every channel
# with the training set's mean and standard deviation, which makes the attention scores start small. (The
# parameter `FEATURE_POOL = 2` averages 2 x 2 cells into a `4 x 4` grid: training steps about twice as fast,
# coarser attention maps.) On a real dataset (`DATASET = "coco"` or `"flickr8k"`, `DATA_DIR` a copy of it)
# every cell runs on its photos, except the parts that need the scenes' ground truth (object precision and
# recall, attention-in-box): they say in one line that they are skipped.

# %%
train = helpers.load_captions("train", LANGUAGE, DATASET, data_dir=DATA_DIR)
val = helpers.load_captions("val", LANGUAGE, DATASET, data_dir=DATA_DIR)
if DATASET != "embedded":
    layout = (
        helpers.detect_layout(DATASET, DATA_DIR).name
        if DATA_DIR is not None
        else "the cache's copy"
    )
    print(
        f"{DATASET} ({layout}): train {len(train.files)} images, "
        f"{len(train.captions)} captions, "
        f"val {len(val.files)} images, {len(val.captions)} captions "
        "(the test set is loaded for evaluation)"
    )
train_features = helpers.image_features(train, BACKBONE)
if "map" not in train_features:
    raise ValueError(
        f"{DATASET} comes with pooled image vectors only, "
        "and attention needs feature maps: "
        f"use 'embedded', 'coco' or 'flickr8k'"
    )


def pool_maps(maps):
    # Average FEATURE_POOL x FEATURE_POOL cells of the grid
    # (FEATURE_POOL = 1: unchanged), in float32
    n, c, h, w = maps.shape
    p = FEATURE_POOL
    return maps.reshape(n, c, h // p, p, w // p, p).mean(axis=(3, 5), dtype=np.float32)


train_maps = pool_maps(train_features["map"])
# Standardize each channel with the training set's statistics
channel_mean = train_maps.mean(axis=(0, 2, 3), dtype=np.float64, keepdims=True).astype(
    "float32"
)
channel_std = (
    train_maps.std(axis=(0, 2, 3), dtype=np.float64, keepdims=True).astype("float32")
    + 1e-3
)


def standardize(maps):
    # float16 feature maps (N, C, H, W) from helpers.image_features -> pooled,
    # standardized float32
    return ((pool_maps(maps) - channel_mean) / channel_std).astype("float32")


img_codes = (train_maps - channel_mean) / channel_std
val_codes = standardize(helpers.image_features(val, BACKBONE)["map"])
FEATURES, HEIGHT, WIDTH = img_codes.shape[1:]

print(
    f"train: {len(train.files)} images, {len(train.captions)} captions; "
    f"val: {len(val.files)} images"
)
print(
    f"each image code is a {FEATURES}x{HEIGHT}x{WIDTH} feature map:",
    img_codes.shape,
    img_codes.dtype,
)
print(img_codes[0, :8, 0, 0].round(2))
print("\n".join(train.captions_of(0)))


# %% [markdown]
# Captions become lists of tokens between `<start>` and `<end>` (the seed's `#START#` and `#END#`); words
# the vocabulary does not know map to `<unk>` (`#UNK#`). A batch of sentences is a matrix of word ids padded
# with **`-1`** (`PAD_IX`), as in the seed: `-1` is never a word, so the loss can mask it out. The decoder is
# unrolled over a fixed number of steps, so every batch is padded (or cut) to `MAX_LEN` tokens; we choose it
# long enough for all but the longest few training captions, `np.percentile(lengths, 97)`.


# %%
def tokens_of(data):
    # For every image, its captions as token lists with <start> ... <end>
    caps = [[] for _ in data.files]
    for text, image in zip(data.captions, data.caption_image):
        caps[image].append(["<start>", *helpers.tokenize(text, LANGUAGE), "<end>"])
    return caps


captions = tokens_of(train)
val_captions = tokens_of(val)
# The vocabulary is built from the words only: it has its own <pad>, <start>, <end>
# and <unk> entries.
vocab = helpers.Vocabulary.build(
    [c[1:-1] for caps in captions for c in caps],
    min_count=1 if DATASET == "embedded" else 5,
)
n_tokens = len(vocab)
PAD_IX = -1
UNK_IX, START_IX, END_IX = vocab.unk, vocab.start, vocab.end
lengths = np.array([len(c) for caps in captions for c in caps])
MAX_LEN = int(np.percentile(lengths, 97))


def as_matrix(sequences, max_len=MAX_LEN):
    # Token lists -> int32 matrix [n, max_len] of word ids, padded with PAD_IX = -1;
    # a longer caption is cut and keeps its <end>
    ids = [[vocab.stoi.get(w, UNK_IX) for w in seq] for seq in sequences]
    ids = [seq if len(seq) <= max_len else seq[: max_len - 1] + [END_IX] for seq in ids]
    return vocab.pad_batch(ids, max_len=max_len, pad_value=PAD_IX).astype("int32")


def to_string(tokens_ix):
    # Word ids (after <start>) -> text, stopping at <end>
    return " ".join(vocab.decode([i for i in tokens_ix if i >= 0]))


print(
    f"{n_tokens} tokens in the vocabulary; "
    f"captions have {lengths.min()}-{lengths.max()} tokens, MAX_LEN = {MAX_LEN}"
)
print(as_matrix(captions[1]))
print(to_string(as_matrix(captions[1])[0]))

# %%
# Five training scenes, each with two of its five captions
fig = plots.show_images(
    train.paths()[:5],
    [" / ".join(train.captions_of(i)[:2]) for i in range(5)],
    ncols=5,
    wrap=30,
)
plt.show()

# %% [markdown]
# ## The decoder, one step at a time
#
# Since the image encoder has already been applied, the only part left is the sentence decoder. As in the
# seed, we write **one step** of it as a small Lasagne network whose inputs are the previous word, the
# previous LSTM cell and output, and the image features; its outputs are the new cell and output and the
# probabilities of the next word. The features `(batch, channels, height, width)` are first turned into a
# **sequence of positions** `(batch, height*width, channels)` with a `dimshuffle` and a `reshape`: vector
# $f_p$ is what the CNN saw at position $p$.
#
# At step $t$, with $h_{t-1}$ the previous LSTM output, additive attention {cite}`bahdanau2015neural,xu2015show`
# scores every position, normalizes the scores over positions and reads the attended vector:
#
# $$
# e_{t,p} = w^\top \tanh\left(W_f f_p + W_h h_{t-1} + b\right), \qquad
# \alpha_{t,p} = \frac{\exp e_{t,p}}{\sum_{q} \exp e_{t,q}}, \qquad
# z_t = \sum_p \alpha_{t,p} f_p .
# $$
#
# The LSTM {cite}`hochreiter1997long` reads $[z_t; E y_{t-1}]$ (the attended vector and the embedding of the
# previous word), and a dense layer with a softmax gives the next word's probabilities. One change from the
# seed: that layer reads the attended vector too, not only the LSTM output,
#
# $$
# p(y_t \mid y_{<t}, \text{image}) = \operatorname{softmax}\left(W_o [h_t; z_t] + b_o\right),
# $$
#
# the "deep output" of Show, Attend and Tell {cite}`xu2015show`: the word that names an object gets a direct
# path from what the decoder is looking at. This is Show, Attend and Tell's order, the seminar's. The PyTorch
# edition scores the positions with the state *after* the LSTM step instead, and feeds the LSTM the pooled
# image (the order of Lu et al. {cite}`lu2017knowing`); its section
# {ref}`which state chooses where to look <att-query-order>` says why.
#
# **Lasagne 0.1 is small.** It has `InputLayer`, `DenseLayer`, `EmbeddingLayer`, `ConcatLayer`,
# `ReshapeLayer`, `DimshuffleLayer`, `NonlinearityLayer`, and not much more: the seed also used agentnet's
# `LSTMCell` and Lasagne 0.2's `ExpressionLayer`, which this environment does not have. The next cell
# defines the three pieces we need: a layer made of any Theano expression of other layers, a dense layer
# applied at every position of a sequence (Lasagne 0.1's `DenseLayer` flattens everything after the batch
# axis), and an LSTM cell.

# %%
EMBEDDING_SIZE = 64  # change at your will
LSTM_SIZE = 128  # change at your will
# change at your will (the attention tanh is the most expensive operation of a step)
ATTN_SIZE = 32


class ExpressionMergeLayer(MergeLayer):
    # Any Theano expression of the outputs of several layers, as a layer
    # (Lasagne 0.2 has ExpressionLayer).
    # output_shape: a shape tuple, or a function of the list of input shapes.
    def __init__(self, incomings, function, output_shape, **kwargs):
        super().__init__(incomings, **kwargs)
        self.function = function
        self._output_shape = output_shape

    def get_output_shape_for(self, input_shapes):
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shapes))
        return tuple(self._output_shape)

    def get_output_for(self, inputs, **kwargs):
        return self.function(*inputs)


class PositionwiseDenseLayer(Layer):
    # A dense layer applied to every position:
    # (batch, positions, features) -> (batch, positions, num_units).
    def __init__(
        self,
        incoming,
        num_units,
        W=lasagne.init.GlorotUniform(),
        b=lasagne.init.Constant(0.0),
        nonlinearity=None,
        **kwargs,
    ):
        super().__init__(incoming, **kwargs)
        self.num_units = num_units
        self.nonlinearity = nonlinearity or (lambda x: x)
        self.W = self.add_param(W, (self.input_shape[-1], num_units), name="W")
        self.b = (
            None
            if b is None
            else self.add_param(b, (num_units,), name="b", regularizable=False)
        )

    def get_output_shape_for(self, input_shape):
        return (*input_shape[:-1], self.num_units)

    def get_output_for(self, input, **kwargs):
        out = T.dot(input, self.W)
        if self.b is not None:
            out = out + self.b
        return self.nonlinearity(out)


def lstm_cell(prev_cell, prev_out, input_layer, num_units):
    # One LSTM step as Lasagne layers: returns the layers (new_cell, new_out).
    # The four gates come from one dense layer on [input, previous output].
    gates = DenseLayer(
        concat([input_layer, prev_out], axis=1),
        4 * num_units,
        nonlinearity=None,
        b=lasagne.init.Constant(0.0),
        name="lstm_gates",
    )
    n = num_units

    def next_cell(g, c):
        ingate, forgetgate = (
            T.nnet.sigmoid(g[:, :n]),
            T.nnet.sigmoid(g[:, n : 2 * n] + 1.0),
        )  # forget bias 1
        return forgetgate * c + ingate * T.tanh(g[:, 3 * n :])

    new_cell = ExpressionMergeLayer(
        [gates, prev_cell], next_cell, (None, n), name="new_cell"
    )
    new_out = ExpressionMergeLayer(
        [gates, new_cell],
        lambda g, c: T.nnet.sigmoid(g[:, 2 * n : 3 * n]) * T.tanh(c),
        (None, n),
        name="new_out",
    )
    return new_cell, new_out


# %% [markdown]
# ### Exercise 1: attention probabilities
#
# Write `attention_probs(image_features_seq, prev_out, attn_size)`: it returns a Lasagne layer whose output is
# $\alpha_t$, shape `(batch, positions)`, every row a probability distribution over the positions.
#
# - $W_f f_p$ at every position: `PositionwiseDenseLayer(image_features_seq, attn_size, b=None)`;
# - $W_h h_{t-1} + b$: a `DenseLayer(prev_out, attn_size, nonlinearity=None)`;
# - add them with an `ExpressionMergeLayer`: the query has no position axis, so broadcast it with
#   `q.dimshuffle(0, "x", 1)`; apply `T.tanh`;
# - $w^\top(\cdot)$: a `PositionwiseDenseLayer` with one unit, then `reshape(..., ([0], [1]))` drops the last
#   axis;
# - softmax over positions: `NonlinearityLayer(..., T.nnet.softmax)` (Theano's softmax works on the last axis
#   of a matrix).


# %%
def attention_probs(image_features_seq, prev_out, attn_size=ATTN_SIZE):
    # image_features_seq: layer (batch, positions, features);
    # prev_out: layer (batch, lstm units)
    # returns: layer (batch, positions), each row sums to 1
    ### BEGIN SOLUTION: attention probabilities, (batch, positions), rows sum to 1
    features_proj = PositionwiseDenseLayer(
        image_features_seq, attn_size, b=None, name="attn_features"
    )  # (B, L, A)
    query_proj = DenseLayer(prev_out, attn_size, nonlinearity=None, name="attn_query")
    # query_proj (B, A); hidden (B, L, A)
    hidden = ExpressionMergeLayer(
        [features_proj, query_proj],
        lambda f, q: T.tanh(f + q.dimshuffle(0, "x", 1)),
        output_shape=lambda shapes: shapes[0],
        name="attn_hidden",
    )
    scores = reshape(
        PositionwiseDenseLayer(hidden, 1, b=None, name="attn_scores"), ([0], [1])
    )  # (B, L)
    return NonlinearityLayer(scores, T.nnet.softmax, name="attn_probs")  # (B, L)
    ### END SOLUTION


# %% tags=["check"]
# Check exercise 1: shapes, probabilities, and where the decoder looks depends on what
# it has written.
l_seq, l_query = InputLayer((None, 6, 5)), InputLayer((None, 7))
l_probs = attention_probs(l_seq, l_query, attn_size=4)
assert get_output_shape(l_probs) == (None, 6), (
    f"output shape {get_output_shape(l_probs)}, expected (None, 6)"
)
assert len(get_all_params(l_probs, trainable=True)) >= 3, (
    "W_f, W_h (+ b) and w should be trainable parameters"
)
probs_fn = theano.function(
    [l_seq.input_var, l_query.input_var], get_output(l_probs), mode=CHECK_MODE
)
check_rng = np.random.RandomState(1)
seq = check_rng.randn(3, 6, 5).astype("float32")
query = check_rng.randn(3, 7).astype("float32")
p = probs_fn(seq, query)
assert p.shape == (3, 6), (
    f"attention probabilities have shape {p.shape}, expected (batch=3, positions=6)"
)
assert (p >= 0).all() and np.allclose(p.sum(axis=1), 1, atol=1e-5), (
    "each row must be a distribution over positions"
)
assert not np.allclose(p, probs_fn(seq, 2 * query), atol=1e-4), (
    "the previous output h_{t-1} must change the weights"
)
assert not np.allclose(p, probs_fn(seq * 2, query), atol=1e-4), (
    "the image features must change the weights"
)
print("attention_probs: OK", p.round(3)[0])


# %% [markdown]
# ### Exercise 2: the attended vector
#
# Write `attend(attn_probs, image_features_seq)`: a layer whose output is $z_t = \sum_p \alpha_{t,p} f_p$,
# shape `(batch, features)`. An `ExpressionMergeLayer` of the two inputs does it in one line: give the
# probabilities a trailing broadcastable axis (`dimshuffle(0, 1, "x")`), multiply and sum over the positions.
# (`T.batched_dot` would work too.)


# %%
def attend(attn_probs, image_features_seq):
    # attn_probs: layer (batch, positions);
    # image_features_seq: layer (batch, positions, features)
    # returns: layer (batch, features), the attention-weighted sum of the position
    # vectors
    ### BEGIN SOLUTION: the attended vector, a layer (batch, features)
    return ExpressionMergeLayer(
        [attn_probs, image_features_seq],
        lambda p, f: (p.dimshuffle(0, 1, "x") * f).sum(axis=1),
        output_shape=lambda shapes: (shapes[1][0], shapes[1][2]),
        name="attn",
    )
    ### END SOLUTION


# %% tags=["check"]
# Check exercise 2: a one-hot distribution reads one position; any distribution gives
# the weighted sum.
l_p, l_seq = InputLayer((None, 6)), InputLayer((None, 6, 5))
l_attn = attend(l_p, l_seq)
assert get_output_shape(l_attn) == (None, 5), (
    f"output shape {get_output_shape(l_attn)}, expected (None, 5)"
)
attend_fn = theano.function(
    [l_p.input_var, l_seq.input_var], get_output(l_attn), mode=CHECK_MODE
)
check_rng = np.random.RandomState(2)
seq = check_rng.randn(3, 6, 5).astype("float32")
one_hot = np.eye(6, dtype="float32")[[4, 0, 2]]
assert np.allclose(attend_fn(one_hot, seq), seq[[0, 1, 2], [4, 0, 2]], atol=1e-5), (
    "one-hot weights: read that position"
)
probs = check_rng.dirichlet(np.ones(6), size=3).astype("float32")
expected = np.einsum("bp,bpf->bf", probs, seq)
assert np.allclose(attend_fn(probs, seq), expected, atol=1e-5), (
    "expected sum_p probs[b, p] * seq[b, p, :]"
)
print("attend: OK")


# %% [markdown]
# ### The decoder step
#
# With the two exercises done, the step is the seed's `decoder` class, line for line, with agentnet's
# `LSTMCell` replaced by ours. `transition` says which output becomes which input at the next step. Nothing
# is computed yet: these are layers, and `get_output` turns them into symbolic Theano expressions.


# %% tags=["uses-exercises"]
class decoder:
    # B images, C = FEATURES channels on L = HEIGHT * WIDTH positions, H = LSTM_SIZE,
    # E = EMBEDDING_SIZE, V = n_tokens
    prev_word = InputLayer(
        (None,), T.ivector("previous word ids"), name="index of previous word"
    )  # (B,) int32
    image_features = InputLayer((None, FEATURES, HEIGHT, WIDTH), name="img features")
    prev_cell = InputLayer((None, LSTM_SIZE), name="previous LSTM cell goes here")
    prev_out = InputLayer((None, LSTM_SIZE), name="previous LSTM output goes here")

    prev_word_emb = EmbeddingLayer(prev_word, n_tokens, EMBEDDING_SIZE)  # (B, E)

    # The image as a sequence of positions:
    # (batch, channels, h, w) -> (batch, h*w, channels)
    image_features_seq = reshape(
        dimshuffle(image_features, [0, 2, 3, 1]), [[0], -1, [3]]
    )  # (B, L, C)

    # Attention (exercises 1 and 2)
    attn_probs = attention_probs(image_features_seq, prev_out, ATTN_SIZE)  # (B, L)
    attn = attend(attn_probs, image_features_seq)  # (B, C)

    lstm_input = concat([attn, prev_word_emb], axis=-1)  # (B, C + E)
    new_cell, new_out = lstm_cell(prev_cell, prev_out, lstm_input, LSTM_SIZE)  # (B, H)
    # "deep output": the next word sees the LSTM output and the attended vector
    output_probs = DenseLayer(
        concat([new_out, attn], axis=-1),  # (B, H + C)
        n_tokens,
        nonlinearity=T.nnet.softmax,
        name="next word probabilities",
    )  # (B, V)

    # recurrent state transition: on the next step, {key} becomes {value}
    transition = {new_cell: prev_cell, new_out: prev_out}


weights = get_all_params(decoder.output_probs, trainable=True)
print("sequence of positions:", get_output_shape(decoder.image_features_seq))
print(
    "attention:",
    get_output_shape(decoder.attn_probs),
    "-> attended vector:",
    get_output_shape(decoder.attn),
)
print(
    f"{sum(w.get_value().size for w in weights):,} trainable weights in "
    f"{len(weights)} shared variables:",
    ", ".join(str(w) for w in weights),
)

# %% [markdown]
# ## Training: the recurrence as a Python loop
#
# During training we feed the decoder the reference caption (*teacher forcing*) and maximize the likelihood
# of every next word, i.e. minimize the cross-entropy. The seed handed the step to agentnet's `Recurrence`
# (a `theano.scan` underneath). Here a **Python loop unrolls** the step `MAX_LEN - 1` times: each
# `get_output` call builds one more copy of the step's expression, with the same shared weights, and the
# states of step $t$ as the inputs of step $t+1$. The loop runs once, while the graph is *built*; the
# compiled function then has no Python in it. On this machine it is faster than `theano.scan` both to compile
# and to run (scan's compiled inner loop is Cython that no longer builds on Python 3.11, so it falls back to
# a Python loop); the exercises at the end let you compare. It needs a fixed number of steps: that is why
# every batch is padded to `MAX_LEN`.
#
# The loss is the seed's: the probabilities of steps $0..T-2$ are compared with words $1..T-1$, and the mask
# drops the `-1` padding. Theano's cross-entropy indexes the probabilities with the target ids, so the
# padding is first replaced by a valid id (0); the mask then zeroes those terms.

# %% tags=["uses-exercises"]
# Inputs for sentences and image features (symbolic: no data yet)
sentences = T.imatrix("[batch_size x time] of word ids")
image_vectors = T.tensor4("image features [batch,channels,h,w]")


def unroll(image_vectors, sentences, n_steps):
    # Teacher forcing: feed word t, get p(word t+1). Returns (batch, n_steps, n_tokens)
    # and the attention.
    batch_size = sentences.shape[0]
    state = {
        decoder.prev_cell: T.zeros((batch_size, LSTM_SIZE)),
        decoder.prev_out: T.zeros((batch_size, LSTM_SIZE)),
    }
    probs, attention = [], []
    for t in range(n_steps):
        outputs = get_output(
            [*decoder.transition, decoder.output_probs, decoder.attn_probs],
            {
                decoder.prev_word: sentences[:, t],
                decoder.image_features: image_vectors,
                **state,
            },
        )
        *new_state, step_probs, step_attention = outputs
        state = {
            decoder.transition[layer]: value
            for layer, value in zip(decoder.transition, new_state)
        }
        probs.append(step_probs)
        attention.append(step_attention)
    return T.stack(probs, axis=1), T.stack(attention, axis=1)


next_token_probs, _ = unroll(image_vectors, sentences, MAX_LEN - 1)
next_token_probs = next_token_probs.reshape([-1, n_tokens])
next_tokens = sentences[:, 1:].flatten()

mask = T.neq(next_tokens, PAD_IX)
loss = T.nnet.categorical_crossentropy(
    next_token_probs, T.maximum(next_tokens, 0)
)  # -1 -> 0, masked below
loss = T.sum(loss * mask) / T.sum(mask)

# The learning rate is a shared variable too: the training loop lowers it with
# set_value, no recompiling
learning_rate = theano.shared(np.float32(LEARNING_RATE), name="learning rate")
updates = lasagne.updates.adam(loss, weights, learning_rate=learning_rate)
print(
    f"{len(updates)} shared variables are updated by one training step "
    "(weights and Adam's moments)"
)

# %% [markdown]
# `theano.function` is where the work happens. Theano optimizes the graph: the projection $W_f f_p$ of the
# features is the same at every step, and the optimizer merges its `MAX_LEN - 1` copies into one by itself;
# chains of element-wise operations (the LSTM's gates) are fused into single loops; softmax and
# cross-entropy become one stable operation. Then it generates C code for every operation and compiles, with
# `g++`, each module that is not yet in its cache: with an empty cache, many small modules (the cell below
# prints how many, and how long it took). They are kept in the book's cache folder (`.cache/theano`), and the
# next run only optimizes the graph. `COMPILE_MODE`, set at the top, leaves out Theano's in-place rewrites,
# which would add more modules to compile and not make this model faster. And `helpers.theano_compat` sets
# the Theano flag `gcc__cxxflags=-g0`: Theano calls `g++` with `-g`, which writes debug symbols into every
# module for a debugger to read; `-g0` after it leaves them out, so each module compiles faster and the
# compiled code is the same.
#
# As in the seed, the functions take the **image features first and the sentences second**.

# %% tags=["uses-exercises"]
from pathlib import Path


def cache_entries():
    # Compiled C modules in Theano's cache folder (one subfolder each)
    return sum(1 for _ in Path(theano.config.compiledir).glob("tmp*"))


modules_before = cache_entries()
t0 = time.perf_counter()
compiling = widgets.progress(
    total=3, desc="compiling 3 functions (g++)", unit="function"
)  # minutes with a cold cache
train_step = theano.function(
    [image_vectors, sentences],
    loss,
    updates=updates,
    allow_input_downcast=True,
    mode=COMPILE_MODE,
)
compiling.update()
val_step = theano.function(
    [image_vectors, sentences], loss, allow_input_downcast=True, mode=COMPILE_MODE
)
compiling.update()

# One decoder step on its own, for generation: features, previous word and state ->
# next word probabilities
prev_word_var, cell_var, out_var = (
    T.ivector("previous words"),
    T.matrix("cell"),
    T.matrix("output"),
)
step_outputs = get_output(
    [decoder.output_probs, decoder.attn_probs, decoder.new_cell, decoder.new_out],
    {
        decoder.image_features: image_vectors,
        decoder.prev_word: prev_word_var,
        decoder.prev_cell: cell_var,
        decoder.prev_out: out_var,
    },
)
decoder_step = theano.function(
    [image_vectors, prev_word_var, cell_var, out_var],
    step_outputs,
    allow_input_downcast=True,
    mode=COMPILE_MODE,
)
compiling.update()
compiling.close()
compile_seconds = time.perf_counter() - t0
new_modules = cache_entries() - modules_before
print(
    f"compiled 3 functions in {compile_seconds:.0f} s; "
    f"{new_modules} new C modules compiled with g++ "
    f"({'cold cache' if new_modules > 20 else 'warm cache'}); "
    f"the training graph has {len(train_step.maker.fgraph.apply_nodes)} operations"
)

# %% [markdown]
# ### Batches
#
# The seed's batch generator: random images, one of their captions each, as a padded matrix.

# %%
batch_rng = np.random.RandomState(SEED)


def generate_batch(images, captions, batch_size, max_caption_len=MAX_LEN):
    # sample random numbers for image/caption indices
    random_image_ix = batch_rng.randint(0, len(images), size=batch_size)
    # get images
    batch_images = images[random_image_ix]
    # pick 1 of the 5 captions of each image
    batch_captions = [
        captions[i][batch_rng.randint(len(captions[i]))] for i in random_image_ix
    ]
    # convert to matrix
    return batch_images, as_matrix(batch_captions, max_caption_len)


bx, by = generate_batch(img_codes, captions, 3)
print(bx.shape, bx.dtype, by.shape, by.dtype)
print(by)

# %% [markdown]
# ### Main loop
#
# The validation loss after each epoch is computed on the same 256 validation captions (one per image),
# teacher-forced like the training loss. For the last third of the epochs the learning rate drops to a third:
# `learning_rate` is a shared variable, so `set_value` changes what the compiled `train_step` does without
# compiling anything again.

# %% tags=["uses-exercises"]
val_probe = (val_codes[:256], as_matrix([caps[0] for caps in val_captions[:256]]))
history = {"train loss": [], "val loss": []}
untrained_val_loss = float(
    val_step(*val_probe)
)  # before the first step: the real-data check compares with it
t0 = time.perf_counter()
for epoch in range(EPOCHS):
    # a third of the learning rate for the last third of the epochs
    learning_rate.set_value(
        np.float32(
            LEARNING_RATE / 3 if epoch >= EPOCHS - EPOCHS // 3 else LEARNING_RATE
        )
    )
    train_loss = 0.0
    for _ in widgets.progress(
        range(BATCHES_PER_EPOCH), desc=f"epoch {epoch + 1}/{EPOCHS}", leave=False
    ):
        train_loss += float(
            train_step(*generate_batch(img_codes, captions, BATCH_SIZE))
        )
    history["train loss"].append(train_loss / BATCHES_PER_EPOCH)
    history["val loss"].append(float(val_step(*val_probe)))
    print(
        f"Epoch {epoch + 1}: train loss {history['train loss'][-1]:.3f}, "
        f"val loss {history['val loss'][-1]:.3f}"
    )
train_seconds = time.perf_counter() - t0
print(
    f"trained {EPOCHS * BATCHES_PER_EPOCH} batches of {BATCH_SIZE} "
    f"in {train_seconds:.0f} s "
    f"({1000 * train_seconds / (EPOCHS * BATCHES_PER_EPOCH):.0f} ms per step)"
)
plots.loss_curves(
    history,
    title=f"Theano + Lasagne attention decoder (uniform guess: {np.log(n_tokens):.2f})",
)
plt.show()


# %% [markdown]
# ## Apply the trained model
#
# To generate, the decoder feeds its own output back as the next input. We compiled `decoder_step` (one step,
# as a Theano function) and run the loop in Python, which makes the state, the attention and the sampling
# visible at every step.
#
# ### Exercise 3: sampling with a temperature
#
# Write `sample_tokens(probs, temperature, rng)`: one word id per row of `probs` `(batch, vocabulary)`, drawn
# from $p_i^{1/\tau} / \sum_j p_j^{1/\tau}$. Temperature $\tau = 1$ samples from the model, $\tau \to 0$ always
# picks the most probable word (greedy decoding: use `argmax` for $\tau = 0$), large $\tau$ flattens the
# distribution. (The seed computed `p ** temperature` and set `temperature = 10` to sharpen: the same idea with
# the inverse convention.) Work in logarithms so that small probabilities raised to a large power do not
# underflow, and draw with `rng` (a `numpy.random.RandomState`) so that runs repeat.


# %%
def sample_tokens(probs, temperature, rng):
    # probs: array (batch, vocabulary);
    # returns an int array (batch,) of sampled word ids
    ### BEGIN SOLUTION: sample one word per row, with a temperature (0 = argmax)
    if temperature == 0:
        return probs.argmax(axis=-1)
    logits = np.log(np.maximum(probs, 1e-30)) / temperature
    scaled = np.exp(logits - logits.max(axis=-1, keepdims=True))
    cdf = np.cumsum(scaled / scaled.sum(axis=-1, keepdims=True), axis=-1)
    draws = rng.random_sample((len(probs), 1))
    return np.minimum(
        (cdf < draws).sum(axis=-1), probs.shape[-1] - 1
    )  # inverse CDF, one draw per row
    ### END SOLUTION


# %% tags=["check"]
# Check exercise 3: greedy at temperature 0, the model's distribution at 1,
# sharper below 1, flatter above.
check_rng = np.random.RandomState(3)
p = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]], dtype="float32")
assert list(sample_tokens(p, 0, check_rng)) == [1, 0], (
    "temperature 0 must pick the most probable word"
)
many = np.repeat(p[:1], 20000, axis=0)
for temperature in (1.0, 0.5, 3.0):
    draws = np.asarray(sample_tokens(many, temperature, check_rng))
    assert draws.shape == (20000,), f"one word per row: shape {draws.shape}"
    freq = np.bincount(draws, minlength=3) / len(draws)
    expected = p[0] ** (1 / temperature) / (p[0] ** (1 / temperature)).sum()
    assert np.allclose(freq, expected, atol=0.02), (
        f"temperature {temperature}: frequencies {freq}, expected {expected}"
    )
assert list(sample_tokens(np.array([[1e-30, 1 - 1e-30]]), 0.01, check_rng)) == [1], (
    "use logarithms: no underflow"
)
print("sample_tokens: OK")


# %% tags=["uses-exercises"]
def generate_captions(image_codes, temperature=0.0, max_len=MAX_LEN, rng=None):
    # Word ids (batch, max_len - 1) and attention maps
    # (batch, max_len - 1, HEIGHT, WIDTH), one step at a time
    rng = rng or np.random.RandomState(SEED)
    batch_size = len(image_codes)
    words = np.full(batch_size, START_IX, dtype="int32")
    cell = np.zeros((batch_size, LSTM_SIZE), dtype="float32")
    out = np.zeros((batch_size, LSTM_SIZE), dtype="float32")
    tokens, attention = [], []
    for _ in range(max_len - 1):
        probs, attn, cell, out = decoder_step(image_codes, words, cell, out)
        probs[:, [vocab.pad, START_IX]] = 0  # never write <pad> or <start>
        words = np.asarray(sample_tokens(probs, temperature, rng), dtype="int32")
        tokens.append(words)
        attention.append(attn.reshape(batch_size, HEIGHT, WIDTH))
    return np.stack(tokens, axis=1), np.stack(attention, axis=1)


def caption_words(tokens):
    # Generated ids -> word lists, stopping at <end>
    return [vocab.decode(row) for row in tokens]


test = helpers.load_captions("test_A", LANGUAGE, DATASET, data_dir=DATA_DIR)
test_codes = standardize(helpers.image_features(test, BACKBONE)["map"])
t0 = time.perf_counter()
test_tokens, test_attention = generate_captions(test_codes, temperature=0.0)
test_words = caption_words(test_tokens)
print(
    f"greedy captions for the {len(test_words)} images of test_A in "
    f"{time.perf_counter() - t0:.1f} s"
)
for i in range(5):
    print(f"{i}: {' '.join(test_words[i])!r:58} reference: {test.captions_of(i)[0]!r}")

# %% [markdown]
# Greedy decoding writes one caption per image; sampling at a temperature writes a different one every time.
# Below, for four test images: the greedy caption, then two samples at each temperature of `(0.5, 1.0)`.

# %% tags=["uses-exercises"]
show_ix = [0, 1, 2, 3]
sample_rng = np.random.RandomState(SEED)
fig, axes = plt.subplots(
    2,
    len(show_ix),
    figsize=(3.6 * len(show_ix), 6.2),
    gridspec_kw={"height_ratios": [1, 0.55]},
)
for col, i in enumerate(show_ix):
    lines = [f"greedy: {' '.join(test_words[i])}"]
    for temperature in (0.5, 1.0):
        tokens, _ = generate_captions(test_codes[[i, i]], temperature, rng=sample_rng)
        lines += [
            f"T={temperature}: {' '.join(words)}" for words in caption_words(tokens)
        ]
    axes[0, col].imshow(plt.imread(test.paths()[i]))
    axes[0, col].set_title(f"test_A image {i}", fontsize=9)
    axes[1, col].text(
        0,
        1,
        "\n".join(textwrap.fill(line, 40, subsequent_indent="    ") for line in lines),
        va="top",
        fontsize=8.5,
    )
    for ax in axes[:, col]:
        ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Evaluation
#
# - **Validation loss**: the masked cross-entropy on *all* validation captions, teacher-forced (the number the
#   training curve shows, on more data). A model that guessed uniformly would pay $\log V$.
# - **BLEU** {cite}`papineni2002bleu` of the greedy captions of the 1,000 `test_A` images against their five
#   references (`helpers.caption_metrics.evaluate_captions`: nltk's `corpus_bleu` with smoothing method 1, our
#   tokenizer, no `<start>` and `<end>`), computed exactly as in the PyTorch edition. Two rows frame it: the
#   **nearest-neighbour** baseline (the consensus caption of the closest training image by pooled CNN
#   features: a model that copies instead of writing) and **human agreement** (each reference scored against
#   the other four, averaged; `helpers.caption_metrics.human_ceiling`).
# - **Scene truth** (embedded data): the objects a caption names, parsed back, against the objects of the
#   scene: precision (named objects that are there) and recall (objects of the scene that are named).

# %% tags=["uses-exercises"]
import pandas as pd

val_matrix = as_matrix([c for caps in val_captions for c in caps])
val_images = np.repeat(
    np.arange(len(val_captions)), [len(caps) for caps in val_captions]
)
val_loss_sum = val_words = 0.0
for s in range(0, len(val_matrix), 250):
    words = float((val_matrix[s : s + 250, 1:] != PAD_IX).sum())
    val_loss_sum += (
        float(val_step(val_codes[val_images[s : s + 250]], val_matrix[s : s + 250]))
        * words
    )
    val_words += words
val_loss = val_loss_sum / val_words
print(f"validation loss {val_loss:.3f} (uniform guess: {np.log(n_tokens):.3f})")

references = batching.references_per_image(test, LANGUAGE)
model_scores = caption_metrics.evaluate_captions(
    test_words, test, LANGUAGE, references=references
)
neighbour_text, _ = caption_metrics.nearest_neighbour_captions(
    helpers.image_features(test, BACKBONE)["pooled"],
    helpers.image_features(train, BACKBONE)["pooled"],
    [train.captions_of(i) for i in range(len(train.files))],
    lang=LANGUAGE,
)
neighbour_scores = caption_metrics.evaluate_captions(
    [helpers.tokenize(t, LANGUAGE) for t in neighbour_text],
    test,
    LANGUAGE,
    references=references,
)
human_scores = caption_metrics.human_ceiling(references)
columns = ["bleu1", "bleu2", "bleu4", "object_precision", "object_recall"]
if test.scenes is None:
    print(
        f"object precision and recall skipped on {DATASET}: "
        "they need the scenes' ground truth"
    )
    columns = columns[:3]
table = pd.DataFrame(
    {
        "attention decoder (greedy)": model_scores,
        "nearest neighbour caption": neighbour_scores,
        "human agreement": human_scores,
    }
).T.reindex(columns=columns)
table.round(3)

# %% [markdown]
# ## Where does it look?
#
# For one test image, the attention map $\alpha_t$ of every step of the greedy caption, upsampled from the
# grid onto the image; the first panel shows the scene truth's boxes. Each map is the one the decoder used
# to *write* the word above it.

# %% tags=["uses-exercises"]
FIGURE_IX = 1
fig = plots.plot_attention_steps(
    plt.imread(test.paths()[FIGURE_IX]),
    test_words[FIGURE_IX],
    test_attention[FIGURE_IX],
    scene=test.scenes[FIGURE_IX] if test.scenes is not None else None,
    title=f"Attention while writing {' '.join(test_words[FIGURE_IX])!r}",
)
plt.show()

# %% [markdown]
# Does the attention look at the object a word names? For every generated word that names an object of the
# scene, `helpers.caption_metrics.attention_in_boxes` checks whether the peak of that step's map lies in the
# object's box, and how often a peak placed uniformly at random would (the share of grid cells inside the
# box).

# %% tags=["uses-exercises"]
attention_summary = {
    "attention_in_box": float("nan"),
    "attention_in_box_uniform": float("nan"),
    "object_words": 0,
}
if test.scenes is not None:
    records = [
        r
        for words, maps, scene in zip(test_words, test_attention, test.scenes)
        for r in caption_metrics.attention_in_boxes(words, maps, scene, LANGUAGE)
    ]
    attention_summary = caption_metrics.summarize_attention_in_box(records)
    print(
        f"{attention_summary['object_words']} object words: "
        "the attention peak lies in the object's box "
        f"{attention_summary['attention_in_box']:.2f} of the time "
        "(uniformly random peak: "
        f"{attention_summary['attention_in_box_uniform']:.2f})"
    )
else:
    print(
        f"attention-in-box skipped on {DATASET}: it needs the objects' boxes "
        "from the scenes' ground truth"
    )

# %% [markdown]
# ## Quality floors and results
#
# The assertions fail the notebook (and the book's tests) if learning breaks. On real data, where one short
# run on a sample says little about quality, they check what holds for any correct run: finite losses, a
# validation loss below the untrained decoder's, BLEU within [0, 1]; the numbers go to
# `results/04_theano_attention_solution.json`.

# %% tags=["uses-exercises"]
metrics = {
    "train_loss_first": history["train loss"][0],
    "train_loss_last": history["train loss"][-1],
    "val_loss": val_loss,
    "bleu4": model_scores["bleu4"],
    "bleu1": model_scores["bleu1"],
    "bleu4_nearest_neighbour": neighbour_scores["bleu4"],
    "bleu4_human": human_scores["bleu4"],
    "compile_seconds": compile_seconds,
    "train_seconds": train_seconds,
}
for key in ("object_precision", "object_recall"):
    if key in model_scores:
        metrics[key] = model_scores[key]
for key in ("attention_in_box", "attention_in_box_uniform"):
    if np.isfinite(attention_summary[key]):
        metrics[key] = attention_summary[key]
helpers.record("04_theano_attention_solution", metrics)
print("\n".join(f"{key:26} {value:.3f}" for key, value in metrics.items()))

# Quality floors, with a margin below what the default parameters reach on the
# embedded data
if DATASET == "embedded":
    assert metrics["train_loss_last"] < 0.6 * metrics["train_loss_first"], (
        "the training loss did not go down"
    )
    assert metrics["val_loss"] < 0.4 * np.log(n_tokens), (
        "the validation loss is not far below a uniform guess"
    )
    assert metrics["bleu4"] > 0.2, (
        f"BLEU-4 {metrics['bleu4']:.3f} is below the floor 0.2"
    )
    assert metrics["attention_in_box"] > 2 * metrics["attention_in_box_uniform"], (
        "attention is not on the objects"
    )
else:
    # real data, even one "epoch" of BATCHES_PER_EPOCH batches: what holds for any
    # correct run
    print(
        f"validation loss on the probe: {untrained_val_loss:.3f} untrained, "
        f"{history['val loss'][-1]:.3f} trained"
    )
    assert np.isfinite(
        history["train loss"] + history["val loss"] + [val_loss]
    ).all(), "a loss is not finite"
    assert history["val loss"][-1] < untrained_val_loss, (
        "training did not lower the validation loss"
    )
    assert all(0 <= metrics[k] <= 1 for k in ("bleu1", "bleu4")), "BLEU outside [0, 1]"

# %% [markdown]
# ## Explore
#
# Step through the words of a generated caption and see where the decoder looked for each (in the HTML
# book the control is not live: the attention figure above shows the same thing for one image).

# %% tags=["uses-exercises"]
stepper, show_word = widgets.word_stepper(
    [plt.imread(p) for p in test.paths()[:50]],
    test_words[:50],
    list(test_attention[:50]),
    test.scenes[:50] if test.scenes is not None else None,
)
widgets.show(stepper, "word-by-word attention explorer")
# One view drawn in every run (image 1 at its first object word), so the code behind
# the widget is exercised
show_word(1, next((t for t, _ in grammar.object_mentions(test_words[1], LANGUAGE)), 0))

# %% [markdown]
# ## Exercises
#
# ```{exercise}
# :label: theano-att-init
#
# **Initialize the LSTM from the image** (the seed's first trick). Instead of zeros, start the decoder from
# $c_0 = \tanh(W_c \bar f)$ and $h_0 = \tanh(W_h \bar f)$ where $\bar f$ is the mean of the position vectors.
# Where in `unroll` and `generate_captions` does this go, and does the validation loss after `EPOCHS` epochs
# change?
# ```
#
# ```{solution} theano-att-init
# :class: dropdown
#
# Build two layers on the features, e.g. `mean_f = ExpressionMergeLayer([decoder.image_features_seq], lambda f: f.mean(axis=1), lambda s: (s[0][0], s[0][2]))`
# then `init_cell = DenseLayer(mean_f, LSTM_SIZE, nonlinearity=T.tanh)` (same for `init_out`). In `unroll`,
# replace the `T.zeros` by `get_output(init_cell, {decoder.image_features: image_vectors})`; add their
# parameters to `weights` (`get_all_params([decoder.output_probs, init_cell, init_out], trainable=True)`)
# before building `updates`; compile a small `theano.function([image_vectors], [c0, h0])` for
# `generate_captions`. The first word then depends on the image (with zeros, the first attention query is
# the same for every image), and the loss of the first steps drops a little; the effect on the total loss is
# small on our short captions.
# ```
#
# ```{exercise}
# :label: theano-att-dot
#
# **A cheaper score.** Replace the additive score by a bilinear one, $e_{t,p} = f_p^\top W h_{t-1}$
# (Luong et al.'s "general" score {cite}`luong2015effective`). Which layers of `attention_probs` go away?
# Compare compile time, step time and validation loss.
# ```
#
# ```{solution} theano-att-dot
# :class: dropdown
#
# `query = DenseLayer(prev_out, FEATURES, nonlinearity=None, b=None)`, then
# `ExpressionMergeLayer([image_features_seq, query], lambda f, q: (f * q.dimshuffle(0, "x", 1)).sum(axis=2), lambda s: s[0][:2])`
# and the softmax. The `tanh` over `(batch, positions, ATTN_SIZE)` disappears (it is the largest
# element-wise operation of a step, in the forward and the backward pass), so a step is faster and there are
# fewer C modules to compile; the attention is usually sharper and the loss similar.
# ```
#
# ```{exercise}
# :label: theano-att-scan
#
# **Scan instead of the loop.** Write `unroll` with `theano.scan` (the step function receives `sentences.T`
# rows and the two states, and returns the new states and the probabilities). Measure the compile time with an
# empty compile cache (`THEANO_FLAGS=base_compiledir=/tmp/empty`) and the time per training step. Why can scan
# handle captions of any length in the same compiled function while the unrolled graph cannot?
# ```
#
# ```{solution} theano-att-scan
# :class: dropdown
#
# `(cells, outs, probs), _ = theano.scan(step, sequences=sentences[:, :-1].T, outputs_info=[c0, h0, None], non_sequences=image_vectors)`
# with `step(word, cell, out, images)` calling `get_output` as in the loop. On this book's machines the scan
# version compiled more C modules (the scan's gradient is a second scan with its own inner graph: about 140
# modules against 90 in our first measurement) and its steps were slower: on Python 3.11 the inner loop runs in
# Python (the compiled Cython scan no longer builds). Scan's number of steps is a symbolic value (`sentences.shape[1]`), so batches can be padded to
# their own longest caption; the unrolled graph has exactly `MAX_LEN - 1` copies of the step.
# ```
#
# ```{exercise}
# :label: theano-att-temperature
#
# **Temperature and truth.** Generate captions for the validation images at each temperature of
# `(0, 0.5, 1, 1.5)` and compute BLEU-4 and the scene-truth scores (object precision and recall) for each.
# Which temperature would you use to describe an image, and which to generate varied training data?
# ```
#
# ````{solution} theano-att-temperature
# :class: dropdown
#
# ```python
# keys = ("bleu4", "object_precision", "object_recall")
# for T_ in (0, 0.5, 1, 1.5):
#     tokens, _ = generate_captions(val_codes, T_)
#     words = caption_words(tokens)
#     scores = caption_metrics.evaluate_captions(words, val, LANGUAGE)
#     distinct = len({tuple(w) for w in words})
#     shown = {k: round(scores[k], 3) for k in keys}
#     print(f"T = {T_}: {distinct} distinct captions", shown)
# ```
#
# `caption_words` turns the generated ids into word lists, and `evaluate_captions` scores them against the
# validation references and scenes, as the evaluation above does for `test_A`. Precision and BLEU fall as the
# temperature rises (more words the image does not support), while the captions get more varied (more distinct
# captions): greedy (or a low temperature) to describe, a temperature near 1 for variety.
# ````

# %% [markdown]
# ```{exercise}
# :label: theano-att-bottleneck
#
# **A bottleneck before the vocabulary** (the seed's third trick). The last layer of the step,
# `output_probs`, maps the LSTM output and the attended vector, $[h_t; z_t]$ of size $H + C$, straight to the
# $V$ words of the vocabulary. Put a narrow layer in between:
# `DenseLayer(DenseLayer(concat([new_out, attn], axis=-1), 64, nonlinearity=None), n_tokens, nonlinearity=T.nnet.softmax)`.
# How many parameters does it save here, and for a COCO-sized decoder (a vocabulary of 10,000 words,
# $H = 1024$ and the $C = 512$ channels of Show, Attend and Tell's VGG features)?
# ```
#
# ```{solution-start} theano-att-bottleneck
# :class: dropdown
# ```
#
# A direct layer has $(H + C) V + V$ parameters (weights and biases), the bottleneck
# $(H + C) b + b + b V + V$, with $H$ = `LSTM_SIZE`, $C$ = `FEATURES`, $V$ = `n_tokens` and $b$ the width of the
# narrow layer (`BOTTLENECK = 64`). In the solution notebook ({doc}`04_theano_attention_solution`) the cell
# that follows reads both from the trained layer's own weights and computes the COCO-sized case. The softmax
# layer dominates the size of large captioning models, and the bottleneck also speeds up the largest matrix
# product of every step. With no nonlinearity between them, the two layers are one linear map of rank at most
# $b$: the bottleneck is a low-rank output layer. The deep output of Show, Attend and Tell
# {cite}`xu2015show` is built the same way: $p(y_t) \propto \exp\left(L_o (E y_{t-1} + L_h h_t + L_z z_t)\right)$
# maps the previous word, the state and the attended vector to the embedding size before $L_o$ maps that
# to the vocabulary.

# %% tags=["solution-only", "uses-exercises"]
BOTTLENECK = 64  # b: the width of the narrow layer
deep_in, vocab_size = decoder.output_probs.W.get_value().shape  # (H + C, V)
direct = sum(p.get_value().size for p in decoder.output_probs.get_params())
assert (deep_in, direct) == (LSTM_SIZE + FEATURES, deep_in * vocab_size + vocab_size)
print(
    f"the output layer holds {direct:,} of the decoder's "
    f"{sum(w.get_value().size for w in weights):,} trainable weights"
)


def output_layer_parameters(inputs, vocab_size, bottleneck=BOTTLENECK):
    # (direct inputs -> V layer, inputs -> b -> V bottleneck): weights and biases
    direct = inputs * vocab_size + vocab_size
    through = inputs * bottleneck + bottleneck + bottleneck * vocab_size + vocab_size
    return direct, through


for where, hidden, channels, words in (
    ("this notebook's decoder", LSTM_SIZE, FEATURES, vocab_size),
    ("a COCO-sized decoder", 1024, 512, 10_000),
):
    n_direct, n_through = output_layer_parameters(hidden + channels, words)
    print(
        f"{where} (H + C = {hidden} + {channels}, V = {words}): {n_direct:,} "
        f"parameters direct, {n_through:,} through the bottleneck"
    )

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ## Summary
#
# - Attention is two small pieces: scores of every image position against the decoder's state, normalized by
#   a softmax, and the weighted sum of the position vectors. In Lasagne they are layers, and so is everything
#   else: a recurrent decoder is one step of layers plus a rule for feeding its outputs back.
# - Theano builds a symbolic graph first (`get_output`), optimizes and compiles it (`theano.function`, `g++`,
#   cached on disk), and only then runs. Unrolling the step in a Python loop builds a bigger graph but costs
#   nothing at run time; `theano.scan` keeps the loop symbolic.
# - Weights are **shared variables** that the compiled training function updates in place
#   (`updates=lasagne.updates.adam(...)`): there is no `optimizer.step()` and no `.backward()`; the gradient is
#   part of the compiled graph.
# - On the embedded scenes the evaluation measures what the decoder learnt in its short CPU training: BLEU
#   against a nearest-neighbour baseline and human agreement, the precision and recall of the objects its
#   captions name against the scene truth, and how often the attention peak of an object word lies in that
#   object's box compared with a uniformly random peak.
#
# The page {doc}`../book/theano_vs_pytorch` compares this notebook with its PyTorch twin line by line.
#
# ## References
#
# - {cite}`xu2015show`: Show, Attend and Tell, the model of this chapter; {cite}`bahdanau2015neural`: the
#   additive attention score.
# - {cite}`hochreiter1997long`: the LSTM; {cite}`kingma2015adam`: Adam.
# - {cite}`theano2016` and {cite}`dieleman2015lasagne`: the frameworks of this edition.
# - {cite}`papineni2002bleu`: BLEU; {cite}`tan2019efficientnet`: the backbone of the feature maps.
