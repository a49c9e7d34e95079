"""On-disk formats: sparsify (with multi_topk and groupmax), SAELens and tuned-lens.

Fixture folders are written here following each library's documented layout; every round trip
in the docs' format table is tested, and the reference libraries themselves are used where they
are installed (skipped, with the reason, where they are not).
"""

import json

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file

from interp.coders.sparse_coder import build_coder
from interp.coders.config import CoderConfig
from interp.coders.io import CoderFormatError, load_coder, save_coder
from interp.interventions.lens import TunedLens
from interp.coders.training import TrainConfig, train_coder

D, M = 6, 12


def _perturbed(coder, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in coder.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return coder


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _x(n=9, dtype=torch.float64):
    return torch.randn(n, D, generator=torch.Generator().manual_seed(7), dtype=dtype)


# -- sparsify layout ---------------------------------------------------------------------------

SPARSIFY_FIELDS = {
    "activation", "expansion_factor", "normalize_decoder", "num_latents", "k", "multi_topk",
    "skip_connection", "transcode", "d_in",
}  # fmt: skip


@pytest.mark.parametrize(
    "cfg",
    [
        CoderConfig(k=3, num_latents=M, multi_topk=True),
        CoderConfig(activation="groupmax", k=3, num_latents=M),
        CoderConfig(
            activation="groupmax", k=4, num_latents=M, transcode=True, skip_connection=True
        ),
    ],
    ids=["topk-multi_topk", "groupmax-sae", "groupmax-skip-transcoder"],
)
def test_sparsify_flags_survive_load_and_resave(tmp_path, cfg):
    coder = _perturbed(build_coder(D, cfg, seed=1))
    first = save_coder(coder, tmp_path / "a", format="sparsify")
    written = json.loads((first / "cfg.json").read_text())
    assert set(written) == SPARSIFY_FIELDS  # exactly sparsify's fields, nothing it cannot read
    assert written["activation"] == cfg.activation and written["multi_topk"] == cfg.multi_topk
    loaded = load_coder(first)
    assert loaded.cfg == cfg and _same_state(coder, loaded)
    second = save_coder(loaded, tmp_path / "b", format="sparsify")
    assert json.loads((second / "cfg.json").read_text()) == written
    a, b = load_file(str(first / "sae.safetensors")), load_file(str(second / "sae.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sparsify_groupmax_checkpoint_encodes_as_defined(tmp_path):
    """A hand-written sparsify folder: cfg.json (its fields) + sae.safetensors."""
    folder = tmp_path / "layers.3"
    folder.mkdir()
    k = 4
    cfg = {"activation": "groupmax", "expansion_factor": 2, "normalize_decoder": True,
           "num_latents": 0, "k": k, "multi_topk": False, "skip_connection": False,
           "transcode": False, "d_in": D}  # fmt: skip
    (folder / "cfg.json").write_text(json.dumps(cfg))
    gen = torch.Generator().manual_seed(3)
    t = {
        "encoder.weight": torch.randn(M, D, generator=gen, dtype=torch.float64),
        "encoder.bias": torch.randn(M, generator=gen, dtype=torch.float64),
        "W_dec": torch.randn(M, D, generator=gen, dtype=torch.float64),
        "b_dec": torch.randn(D, generator=gen, dtype=torch.float64),
    }
    save_file(t, str(folder / "sae.safetensors"))
    coder = load_coder(folder)
    x = _x()
    pre = torch.relu((x - t["b_dec"]) @ t["encoder.weight"].T + t["encoder.bias"])
    groups = pre.reshape(len(x), k, M // k)
    expected = torch.zeros_like(pre)
    for row in range(len(x)):
        for g in range(k):
            j = int(groups[row, g].argmax())
            expected[row, g * (M // k) + j] = groups[row, g, j]
    with torch.no_grad():
        got = coder.encode(x).dense(M)
        assert torch.equal(got != 0, expected != 0)  # the same latent of each group
        assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12)
        assert torch.allclose(coder(x).output, expected @ t["W_dec"] + t["b_dec"], rtol=1e-12)


def test_relu_and_jumprelu_are_refused_in_the_sparsify_layout(tmp_path):
    for activation in ("relu", "jumprelu"):
        coder = _perturbed(build_coder(D, CoderConfig(activation=activation, k=0, num_latents=M)))
        with pytest.raises(CoderFormatError, match=f"sparsify has no {activation} coder"):
            save_coder(coder, tmp_path / activation, format="sparsify")
        save_coder(coder, tmp_path / activation)  # the native layout keeps them
        loaded = load_coder(tmp_path / activation)
        assert loaded.cfg == coder.cfg and _same_state(loaded, coder)


def test_multi_topk_term_is_the_fvu_of_4k_latents():
    cfg = CoderConfig(k=2, num_latents=M, multi_topk=True)
    coder = _perturbed(build_coder(D, cfg, seed=0, dtype=torch.float64))
    x = _x()
    with torch.no_grad():
        out = coder(x)
        pre = torch.relu((x - coder.b_dec) @ coder.encoder.weight.T + coder.encoder.bias)
        values, idx = pre.topk(8, dim=-1)
        z = torch.zeros_like(pre).scatter(1, idx, values)
        wide = z @ coder.W_dec + coder.b_dec
        fvu = (wide - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
    assert float(out.multi_topk_fvu) == pytest.approx(float(fvu), rel=1e-12)
    plain = build_coder(D, CoderConfig(k=2, num_latents=M), dtype=torch.float64)
    assert float(plain(x).multi_topk_fvu) == 0.0
    with pytest.raises(ValueError, match="multi_topk needs the topk"):
        CoderConfig(activation="groupmax", k=2, multi_topk=True)


def test_groupmax_and_multi_topk_coders_train(tmp_path):
    x = torch.randn(512, D, generator=torch.Generator().manual_seed(0))
    train = TrainConfig(batch_size=64, num_steps=30)
    for cfg in (
        CoderConfig(activation="groupmax", k=3, num_latents=M),
        CoderConfig(k=3, num_latents=M, multi_topk=True),
    ):
        result = train_coder(x, coder_config=cfg, train_config=train, progress=False)
        assert result.history[-1].fvu < result.history[0].fvu
    with pytest.raises(ValueError, match="JumpReLU coders are loaded"):
        train_coder(x, coder_config=CoderConfig(activation="jumprelu", k=0, num_latents=M))


@pytest.fixture
def sparsify_lib():
    sparsify = pytest.importorskip("sparsify", reason="EleutherAI sparsify (eai-sparsify) absent")
    if not hasattr(sparsify, "SparseCoder"):
        pytest.skip("the installed 'sparsify' is not EleutherAI's (no SparseCoder)")
    return sparsify


@pytest.mark.parametrize("activation", ["topk", "groupmax"])
def test_sparsify_reads_and_writes_the_same_coders(tmp_path, sparsify_lib, activation):
    cfg = CoderConfig(activation=activation, k=3, num_latents=M, multi_topk=activation == "topk")
    ours = _perturbed(build_coder(D, cfg, dtype=torch.float32))
    save_coder(ours, tmp_path / "ours", format="sparsify")
    theirs = sparsify_lib.SparseCoder.load_from_disk(tmp_path / "ours")
    assert theirs.cfg.multi_topk == cfg.multi_topk and theirs.cfg.activation == activation
    x = _x(dtype=torch.float32)
    with torch.no_grad():
        a, b = theirs.encode(x), ours.encode(x)
        dense = torch.zeros(len(x), M).scatter(1, a.top_indices, a.top_acts)
        assert torch.equal(dense, b.dense(M))
    theirs.save_to_disk(tmp_path / "theirs")
    assert _same_state(load_coder(tmp_path / "theirs"), ours)


# -- SAELens -----------------------------------------------------------------------------------


def _saelens_folder(folder, architecture="standard", *, apply_b_dec=True, old_style=False, **extra):
    """A SAELens SAE folder as SAELens documents it: cfg.json + sae_weights.safetensors."""
    folder.mkdir(parents=True)
    gen = torch.Generator().manual_seed(11)
    t = {
        "W_enc": torch.randn(D, M, generator=gen, dtype=torch.float64),
        "W_dec": torch.randn(M, D, generator=gen, dtype=torch.float64),
        "b_enc": torch.randn(M, generator=gen, dtype=torch.float64),
        "b_dec": torch.randn(D, generator=gen, dtype=torch.float64),
    }
    if architecture == "jumprelu":
        t["threshold"] = torch.rand(M, generator=gen, dtype=torch.float64)
    cfg = {"d_in": D, "d_sae": M, "dtype": "float64", "device": "cpu",
           "apply_b_dec_to_input": apply_b_dec, "normalize_activations": "none",
           "metadata": {"model_name": "tiny", "hook_name": "blocks.0.hook_resid_pre"}}  # fmt: skip
    if old_style:  # SAELens < 6: no architecture for TopK, the activation named instead
        cfg |= {"architecture": "standard", "activation_fn_str": "topk",
                "activation_fn_kwargs": {"k": 3}}  # fmt: skip
    else:
        cfg |= {"architecture": architecture, "reshape_activations": "none"}
        if architecture == "topk":
            cfg |= {"k": 3, "rescale_acts_by_decoder_norm": False}
    cfg |= extra
    (folder / "cfg.json").write_text(json.dumps(cfg))
    save_file(t, str(folder / "sae_weights.safetensors"))
    return t, cfg


def _saelens_reference(t, cfg, x):
    """SAELens's forward pass as its documentation states it (float64)."""
    pre = (x - t["b_dec"] * cfg["apply_b_dec_to_input"]) @ t["W_enc"] + t["b_enc"]
    architecture = cfg["architecture"]
    if architecture == "topk" or cfg.get("activation_fn_str") == "topk":
        values, idx = pre.topk(3, dim=-1)
        z = torch.zeros_like(pre).scatter(1, idx, values.relu())
    elif architecture == "jumprelu":
        z = pre.relu() * (pre > t["threshold"])
    else:
        z = pre.relu()
    return z, z @ t["W_dec"] + t["b_dec"]


@pytest.mark.parametrize(
    ("architecture", "options", "activation"),
    [
        ("standard", {}, "relu"),
        ("topk", {}, "topk"),
        ("jumprelu", {}, "jumprelu"),
        ("standard", {"old_style": True}, "topk"),
        ("standard", {"apply_b_dec": False}, "relu"),
    ],
    ids=["standard", "topk", "jumprelu", "topk-pre-v6", "no-b_dec-centring"],
)
def test_saelens_saes_load_and_compute_as_saelens(tmp_path, architecture, options, activation):
    t, cfg = _saelens_folder(tmp_path / "sae", architecture, **options)
    coder = load_coder(tmp_path / "sae")
    assert coder.cfg.activation == activation and coder.num_latents == M and coder.d_in == D
    assert coder.dtype == torch.float64
    assert torch.equal(coder.encoder.weight, t["W_enc"].T) and torch.equal(coder.W_dec, t["W_dec"])
    if options.get("apply_b_dec", True):
        assert torch.equal(coder.encoder.bias, t["b_enc"])  # an exact copy
    x = _x()
    z, out = _saelens_reference(t, cfg, x)
    with torch.no_grad():
        assert torch.allclose(coder.encode(x).dense(M), z, rtol=1e-12, atol=1e-12)
        assert torch.allclose(coder(x).output, out, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("architecture", ["standard", "topk", "jumprelu"])
def test_saelens_round_trips_are_exact(tmp_path, architecture):
    t, cfg = _saelens_folder(tmp_path / "src", architecture)
    coder = load_coder(tmp_path / "src")
    save_coder(coder, tmp_path / "out", format="saelens")
    back = load_file(str(tmp_path / "out" / "sae_weights.safetensors"))
    assert back.keys() == t.keys() and all(torch.equal(back[k], t[k]) for k in t)
    written = json.loads((tmp_path / "out" / "cfg.json").read_text())
    for key in ("architecture", "d_in", "d_sae", "apply_b_dec_to_input", "normalize_activations"):
        assert written[key] == cfg[key]
    if architecture == "topk":
        assert written["k"] == 3
    # and this package's coders through SAELens's layout
    activation = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu"}[architecture]
    ours = CoderConfig(activation=activation, k=3 if activation == "topk" else 0, num_latents=M)
    coder = _perturbed(build_coder(D, ours, seed=2))
    save_coder(coder, tmp_path / "ours", format="saelens")
    again = load_coder(tmp_path / "ours")
    assert again.cfg == ours and _same_state(again, coder)


def test_saelens_refusals_and_hints(tmp_path):
    tc = build_coder(D, CoderConfig(k=3, num_latents=M, transcode=True))
    with pytest.raises(CoderFormatError, match="save transcoders and skip coders in the sparsify"):
        save_coder(tc, tmp_path / "tc", format="saelens")
    gm = build_coder(D, CoderConfig(activation="groupmax", k=3, num_latents=M))
    with pytest.raises(CoderFormatError, match="SAELens has no groupmax"):
        save_coder(gm, tmp_path / "gm", format="saelens")
    _saelens_folder(tmp_path / "norm", normalize_activations="expected_average_only_in")
    with pytest.raises(CoderFormatError, match="normalize_activations"):
        load_coder(tmp_path / "norm")
    _saelens_folder(tmp_path / "gated", "gated")
    with pytest.raises(CoderFormatError, match="architecture 'gated' is not supported"):
        load_coder(tmp_path / "gated")
    # SAELens tensors under sparsify's file name: the error says what they are
    t, _ = _saelens_folder(tmp_path / "renamed")
    (tmp_path / "renamed" / "sae_weights.safetensors").rename(
        tmp_path / "renamed" / "sae.safetensors"
    )
    cfg = {"d_in": D, "num_latents": M, "k": 3}
    (tmp_path / "renamed" / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(CoderFormatError, match="these are SAELens parameter names"):
        load_coder(tmp_path / "renamed")


@pytest.mark.parametrize("architecture", ["standard", "topk", "jumprelu"])
def test_saelens_library_reads_our_files(tmp_path, architecture):
    sae_lens = pytest.importorskip("sae_lens", reason="sae-lens is not installed")
    t, cfg = _saelens_folder(tmp_path / "src", architecture)
    save_coder(load_coder(tmp_path / "src"), tmp_path / "out", format="saelens")
    sae = sae_lens.SAE.load_from_disk(str(tmp_path / "out"), dtype="float64")
    x = _x()
    z, out = _saelens_reference(t, cfg, x)
    with torch.no_grad():
        assert torch.allclose(sae.encode(x), z, rtol=1e-12, atol=1e-12)
        assert torch.allclose(sae.decode(sae.encode(x)), out, rtol=1e-12, atol=1e-12)


# -- tuned-lens --------------------------------------------------------------------------------


def _tuned_lens_folder(folder, layers=3, d=5, bias=True):
    """A tuned-lens folder as the tuned-lens package writes it: config.json + params.pt."""
    folder.mkdir(parents=True)
    gen = torch.Generator().manual_seed(5)
    state = {}
    for i in range(layers):
        state[f"{i}.weight"] = torch.randn(d, d, generator=gen)
        if bias:
            state[f"{i}.bias"] = torch.randn(d, generator=gen)
    torch.save(state, folder / "params.pt")
    config = {"base_model_name_or_path": "tiny", "d_model": d, "num_hidden_layers": layers,
              "bias": bias, "base_model_revision": None, "unembed_hash": None,
              "lens_type": "linear_tuned_lens"}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    return state


@pytest.mark.parametrize("bias", [True, False])
def test_tuned_lens_files_load_and_translate_as_defined(tmp_path, bias):
    state = _tuned_lens_folder(tmp_path / "lens", bias=bias)
    lens = TunedLens.load(tmp_path / "lens")
    assert lens.num_layers == 3 and lens.d_model == 5
    h = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    for layer in range(3):
        b = state[f"{layer}.bias"] if bias else 0.0
        expected = h + h @ state[f"{layer}.weight"].T + b
        assert torch.allclose(lens.translate(h, layer), expected, rtol=1e-6, atol=1e-6)
    assert torch.equal(lens.translate(h, 3), h)  # no translator for the last layer


def test_tuned_lens_round_trips_are_exact(tmp_path):
    state = _tuned_lens_folder(tmp_path / "src")
    lens = TunedLens.load(tmp_path / "src")
    lens.save(tmp_path / "out", format="tuned-lens", base_model="tiny")
    back = torch.load(tmp_path / "out" / "params.pt", weights_only=True)
    assert back.keys() == state.keys() and all(torch.equal(back[k], state[k]) for k in state)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["num_hidden_layers"] == 3 and config["lens_type"] == "linear_tuned_lens"
    lens.save(tmp_path / "native")
    assert _same_state(TunedLens.load(tmp_path / "native"), lens)
    with torch.no_grad():
        lens.translators[3].bias.fill_(1.0)
    with pytest.raises(ValueError, match="last layer"):
        lens.save(tmp_path / "bad", format="tuned-lens")


def test_tuned_lens_file_errors(tmp_path):
    _tuned_lens_folder(tmp_path / "short")
    torch.save({"0.weight": torch.zeros(5, 5)}, tmp_path / "short" / "params.pt")
    with pytest.raises(ValueError, match="expected the 6 translator tensors"):
        TunedLens.load(tmp_path / "short")
    (tmp_path / "none").mkdir()
    with pytest.raises(FileNotFoundError, match="params.pt"):
        TunedLens.load(tmp_path / "none")


def test_tuned_lens_library_reads_our_lens(tmp_path):
    tuned_lens = pytest.importorskip("tuned_lens", reason="tuned-lens is not installed")
    from interp_tiny_models import tiny_llama

    model = tiny_llama()
    lens = TunedLens(model.config.num_hidden_layers, model.config.hidden_size)
    with torch.no_grad():
        for t in lens.translators[:-1]:
            t.weight.normal_(0, 0.1)
            t.bias.normal_(0, 0.1)
    lens.save(tmp_path / "lens", format="tuned-lens")
    theirs = tuned_lens.nn.TunedLens.from_model_and_pretrained(model, str(tmp_path / "lens"))
    h = torch.randn(2, 3, model.config.hidden_size)
    for layer in range(model.config.num_hidden_layers):
        got = theirs.transform_hidden(h, layer)
        assert torch.allclose(got, lens.translate(h, layer), rtol=1e-6, atol=1e-6)


def test_convert_command(tmp_path):
    from click.testing import CliRunner

    from interp.cli import main

    coder = _perturbed(build_coder(D, CoderConfig(k=3, num_latents=M)))
    save_coder(coder, tmp_path / "native")
    res = CliRunner().invoke(
        main, ["convert", str(tmp_path / "native"), str(tmp_path / "sl"), "--to", "saelens"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "sl" / "sae_weights.safetensors").is_file()
    assert _same_state(load_coder(tmp_path / "sl"), coder)
    relu = build_coder(D, CoderConfig(activation="relu", k=0, num_latents=M))
    save_coder(relu, tmp_path / "relu")
    res = CliRunner().invoke(
        main, ["convert", str(tmp_path / "relu"), str(tmp_path / "sp"), "--to", "sparsify"]
    )
    assert res.exit_code == 1 and "Error: sparsify has no relu coder" in res.output
