"""The seed studies' networks (ieegrsa.models.architectures).

Architectures are pinned against independent references: torchvision's VGG-16 and ResNet-50 (same
weights, same outputs) and functional forward passes written here from the papers' definitions
(the 48×48 DenseNet, the Caffe ResNet-50), with BatchNorm statistics perturbed so that a swapped
or misplaced layer shows.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
F = torch.nn.functional

from ieegrsa.errors import DataError  # noqa: E402
from ieegrsa.models import architectures as arch  # noqa: E402
from ieegrsa.models.registry import get_extractor, list_extractors  # noqa: E402

BIG = {"vggface", "vggface2_resnet50"}  # 224 px networks: one forward pass each (slow on CPU)
CASES = [
    ("vggface", {}, 2622),
    ("vggface2_resnet50", {}, 8631),
    ("resnet18_gray", {}, 1503),
    ("densenet_face", {}, 1503),
    ("siamese", {}, None),
]


def _ids(case):
    name, opts, _ = case
    return name + "".join(f"-{k}={v}" for k, v in opts.items())


def _batch(extractor, n=2, seed=0):
    spec = extractor.input_spec
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, spec.channels, spec.size, spec.size, generator=gen)


def _run(module, x):
    with torch.inference_mode():
        return module(x, x.flip(0)) if isinstance(module, arch.SiameseNet) else module(x)


@contextlib.contextmanager
def _completion_order(module, names):
    """Collects the names of leaf modules in the order their forward calls finish.

    Leaves only: in the graph module of the FX feature extractor containers are not called.
    """
    modules = dict(module.named_modules())
    order, handles = [], []
    for name in names:
        if name in modules and not list(modules[name].children()):
            def hook(_m, _i, _o, name=name):
                if name not in order:
                    order.append(name)
            handles.append(modules[name].register_forward_hook(hook))
    try:
        yield order
    finally:
        for handle in handles:
            handle.remove()


def _perturb_bn(module, seed=0):
    """Random BatchNorm scales, shifts and running statistics (eval-mode BN is then no identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, torch.nn.BatchNorm2d):
                c = sub.num_features
                sub.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                sub.bias.copy_(0.1 * torch.randn(c, generator=gen))
                sub.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
                sub.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
    return module


def _bn(sd, x, prefix):
    return F.batch_norm(x, sd[prefix + ".running_mean"], sd[prefix + ".running_var"],
                        sd[prefix + ".weight"], sd[prefix + ".bias"], False, 0.0, 1e-5)


# --- every registered architecture --------------------------------------------------------

def test_registered_names():
    names = list_extractors()
    for name in ("vggface", "vggface2_resnet50", "resnet18_gray", "densenet_face", "siamese"):
        assert name in names
        assert get_extractor(name).name == name


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_architecture(case, tmp_path):
    name, opts, n_classes = case
    big = name in BIG
    ex = get_extractor(name, **opts)
    assert ex.objective in ("identity", "expression")
    assert ex.objective_of("random") == "untrained"
    module = ex.build("random", seed=0)
    assert not module.training
    n = 1 if big else 2
    x = _batch(ex, n=n)

    layers = ex.layers()
    assert layers and layers == ex.layers(module)
    assert len(set(layers)) == len(layers)
    default = ex.default_layers()
    assert 4 <= len(default) <= 8
    assert set(default) <= set(layers)
    assert sorted(default, key=layers.index) == default

    # one forward pass at the real input size: features, output shape and depth order (the
    # layer modules finish their forward calls in the listed order)
    trunk = module.backbone if name == "siamese" else module
    inner = [n.removeprefix("backbone.") for n in layers] if name == "siamese" else layers
    with _completion_order(trunk, inner) as order, torch.inference_mode():
        feats = ex.features(module, x, default)
    assert len(order) >= 8
    assert [n for n in inner if n in order] == order
    assert list(feats) == default
    for value in feats.values():
        assert value.shape[0] == n and torch.isfinite(value).all()
    if n_classes is None:
        out = _run(module, x)
        assert tuple(out.shape) == (n,)
    else:
        assert tuple(feats[default[-1]].shape) == (n, n_classes)
        out = feats[default[-1]]

    # seeded initialisation: reproducible, seed-dependent
    state = module.state_dict()
    same = ex.build("random", seed=0).state_dict()
    other = ex.build("random", seed=1).state_dict()
    assert all(torch.equal(value, same[key]) for key, value in state.items())
    assert any(not torch.equal(value, other[key]) for key, value in state.items()
               if value.is_floating_point())
    del same, other

    # state-dict round trip through a file (identical weights give identical outputs; the
    # forward pass is repeated for the small networks)
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    loaded = ex.build(path, seed=1)
    assert not loaded.training
    assert all(torch.equal(value, state[key]) for key, value in loaded.state_dict().items())
    if not big:
        assert torch.equal(_run(loaded, x), out)
    assert ex.weights_id(path) == ex.weights_id(str(path)) != ex.weights_id("random", 0)
    assert ex.weights_id("random", 3) == "random:seed=3"


def test_named_weights_are_refused_with_a_hint():
    with pytest.raises(DataError, match="local state-dict file.*vgg_face_dag"):
        get_extractor("vggface").build("VGGFACE_DEFAULT")


# --- VGG-Face -----------------------------------------------------------------------------

def _to_torchvision_vgg16(state):
    """VGG-Face names -> torchvision ``vgg16`` keys (written independently of the code)."""
    with torch.device("meta"):
        tv = torchvision.models.vgg16(weights=None, num_classes=2622)
    convs = [f"features.{i}" for i, m in enumerate(tv.features)
             if isinstance(m, torch.nn.Conv2d)]
    linears = [f"classifier.{i}" for i, m in enumerate(tv.classifier)
               if isinstance(m, torch.nn.Linear)]
    ours = [f"conv{b}_{i}" for b, n in zip(range(1, 6), (2, 2, 3, 3, 3))
            for i in range(1, n + 1)] + ["fc6", "fc7", "fc8"]
    rename = dict(zip(ours, convs + linears))
    return {f"{rename[k.split('.')[0]]}.{k.split('.')[1]}": v for k, v in state.items()}, tv


@pytest.fixture(scope="module")
def vgg_pair():
    """A random VGG-Face and torchvision's VGG-16 holding the same tensors (the reference)."""
    ex = get_extractor("vggface")
    module = ex.build("random", seed=5)
    state, tv = _to_torchvision_vgg16(module.state_dict())
    tv.load_state_dict(state, assign=True)
    return ex, module, tv.eval(), state


def test_vggface_is_torchvision_vgg16(vgg_pair):
    ex, module, tv, _ = vgg_pair
    x = _batch(ex, n=1, seed=3)
    pairs = {"pool5": "features.30", "relu7": "classifier.4", "fc8": "classifier.6"}
    with torch.inference_mode():
        mine = ex.features(module, x, list(pairs))
        ref = torchvision.models.feature_extraction.create_feature_extractor(
            tv, list(pairs.values()))(x)
    for layer, tv_layer in pairs.items():
        torch.testing.assert_close(mine[layer], ref[tv_layer], rtol=1e-5, atol=1e-6)


def test_vggface_key_layouts(vgg_pair):
    """(a) torchvision names, (b) ``conv1_1`` (vgg_face_dag) and ``conv_1_1`` names, (c)
    ``module.`` prefixes, fully connected layers stored as convolutions, BGR-trained weights."""
    ex, module, _, tv_state = vgg_pair
    bgr = get_extractor("vggface", channel_order="bgr")
    reference = module.state_dict()
    parallel_conv_fc = {f"module.{k}": v for k, v in tv_state.items()}
    parallel_conv_fc["module.classifier.0.weight"] = tv_state["classifier.0.weight"].reshape(
        4096, 512, 7, 7)
    parallel_conv_fc["module.classifier.3.weight"] = tv_state["classifier.3.weight"][..., None,
                                                                                      None]
    underscored = {(f"conv_{k[4]}_{k[6:]}" if k.startswith("conv") else k): v
                   for k, v in reference.items()}
    assert "conv_5_3.weight" in underscored
    trained_on_bgr = dict(reference)
    trained_on_bgr["conv1_1.weight"] = reference["conv1_1.weight"][:, [2, 1, 0]]
    for converter, state in ((ex, tv_state), (ex, parallel_conv_fc), (ex, reference),
                             (ex, underscored), (bgr, trained_on_bgr)):
        out = converter.convert_state_dict(state)
        assert set(out) == set(reference)
        assert all(torch.equal(out[k], v) for k, v in reference.items())


def test_vggface_unknown_keys_stay_unexpected():
    ex = get_extractor("vggface")
    w = torch.zeros(3)
    out = ex.convert_state_dict({"module.features.99.weight": w, "classifier.1.bias": w,
                                 "features.28.bias": w, "conv_2_1.weight": w})
    assert set(out) == {"features.99.weight", "classifier.1.bias", "conv5_3.bias",
                        "conv2_1.weight"}


def test_vggface_input_spec_reproduces_caffe_preprocessing():
    spec = get_extractor("vggface").input_spec
    pixels = np.array([0.0, 128.0, 255.0])
    for c, m in enumerate((129.1863, 104.7624, 93.5940)):
        normalised = (pixels / 255 - spec.mean[c]) / spec.std[c]
        np.testing.assert_allclose(normalised, pixels - m, atol=1e-9)
    assert (spec.size, spec.resize, spec.grayscale) == (224, None, False)


# --- VGGFace2 ResNet-50 -------------------------------------------------------------------

def _caffe_resnet50(sd, x):
    """Original (Caffe) ResNet-50: stride in the first 1×1 conv, unpadded ceil-mode max-pool."""
    x = F.relu(_bn(sd, F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), "bn1"))
    x = F.max_pool2d(x, 3, 2, 0, ceil_mode=True)
    for stage, n_blocks in zip((1, 2, 3, 4), (3, 4, 6, 3)):
        for block in range(n_blocks):
            p = f"layer{stage}.{block}"
            stride = 2 if block == 0 and stage > 1 else 1
            y = F.relu(_bn(sd, F.conv2d(x, sd[p + ".conv1.weight"], stride=stride), p + ".bn1"))
            y = F.relu(_bn(sd, F.conv2d(y, sd[p + ".conv2.weight"], padding=1), p + ".bn2"))
            y = _bn(sd, F.conv2d(y, sd[p + ".conv3.weight"]), p + ".bn3")
            if block == 0:
                x = _bn(sd, F.conv2d(x, sd[p + ".downsample.0.weight"], stride=stride),
                        p + ".downsample.1")
            x = F.relu(x + y)
    return F.linear(x.mean((2, 3)), sd["fc.weight"], sd["fc.bias"])


def _to_matconvnet_names(sd):
    """torchvision ResNet-50 keys -> resnet50_ft_dag names (written independently of the code)."""
    parts = {"conv1": "1x1_reduce", "bn1": "1x1_reduce_bn", "conv2": "3x3", "bn2": "3x3_bn",
             "conv3": "1x1_increase", "bn3": "1x1_increase_bn", "downsample.0": "1x1_proj",
             "downsample.1": "1x1_proj_bn"}
    out = {}
    for key, value in sd.items():
        if key.endswith("num_batches_tracked"):
            continue  # old conversions have none
        head, leaf = key.rsplit(".", 1)
        if head.startswith("layer"):
            stage, block, part = head.split(".", 2)
            head = f"conv{int(stage[5:]) + 1}_{int(block) + 1}_{parts[part]}"
        else:
            head = {"conv1": "conv1_7x7_s2", "bn1": "conv1_7x7_s2_bn", "fc": "classifier"}[head]
        if key == "fc.weight":
            value = value[:, :, None, None]  # a 1×1 convolution
        out[f"{head}.{leaf}"] = value
    return out


@pytest.fixture(scope="module")
def resnet50_pair():
    ex = get_extractor("vggface2_resnet50")
    return ex, _perturb_bn(ex.build("random", seed=2), seed=2)


def test_vggface2_resnet50_is_the_caffe_resnet(resnet50_pair):
    ex, module = resnet50_pair
    assert module.layer2[0].conv1.stride == (2, 2) and module.layer2[0].conv2.stride == (1, 1)
    x = _batch(ex, n=1, seed=5)[..., :64, :64]  # the graph is size-agnostic; 12× cheaper
    with torch.inference_mode():
        torch.testing.assert_close(module(x), _caffe_resnet50(module.state_dict(), x),
                                   rtol=1e-4, atol=1e-5)
    with torch.device("meta"):
        skeleton = ex.create().eval()
        stages = ["maxpool", "layer1", "layer2", "layer3", "layer4"]
        sizes = ex.features(skeleton, torch.empty(1, 3, 224, 224), stages)
    assert {k: v.shape[-1] for k, v in sizes.items()} == dict(zip(stages, (56, 56, 28, 14, 7)))


def test_vggface2_resnet50_torchvision_variant_is_torchvision_resnet50():
    ex = get_extractor("vggface2_resnet50", stride_in_1x1=False)
    module = ex.build("random", seed=7)
    torch.manual_seed(7)
    reference = torchvision.models.resnet50(weights=None, num_classes=8631).eval()
    expected = reference.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in module.state_dict().items())
    x = _batch(ex, n=1, seed=6)[..., :64, :64]
    with torch.inference_mode():
        torch.testing.assert_close(module(x), reference(x), rtol=0, atol=0)
        caffe = get_extractor("vggface2_resnet50").create().eval()
        caffe.load_state_dict(module.state_dict())
        assert not torch.allclose(caffe(x), reference(x))


def test_vggface2_resnet50_matconvnet_names_file_and_bgr(resnet50_pair, tmp_path):
    ex, module = resnet50_pair
    reference = module.state_dict()
    state = _to_matconvnet_names(reference)
    assert "conv3_1_1x1_proj_bn.running_var" in state and state["classifier.weight"].ndim == 4
    path = tmp_path / "resnet50_ft_dag.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    loaded = ex.build(path).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in reference.items())

    bgr = get_extractor("vggface2_resnet50", channel_order="bgr")
    trained_on_bgr = dict(reference)
    trained_on_bgr["conv1.weight"] = reference["conv1.weight"][:, [2, 1, 0]]
    out = bgr.convert_state_dict(trained_on_bgr)
    assert all(torch.equal(out[k], v) for k, v in reference.items())


# --- DenseNet -----------------------------------------------------------------------------

def _densenet_reference(sd, x, per_block=3):
    """DenseNet (no bottleneck) from its definition: each layer sees all earlier maps."""
    x = F.conv2d(x, sd["features.conv0.weight"], padding=1)
    for block in (1, 2, 3):
        for i in range(1, per_block + 1):
            p = f"features.denseblock{block}.denselayer{i}"
            new = F.conv2d(F.relu(_bn(sd, x, p + ".norm1")), sd[p + ".conv1.weight"], padding=1)
            x = torch.cat([x, new], 1)
        if block < 3:
            p = f"features.transition{block}"
            x = F.avg_pool2d(F.conv2d(F.relu(_bn(sd, x, p + ".norm")), sd[p + ".conv.weight"]), 2)
    x = F.relu(_bn(sd, x, "features.norm5")).mean((2, 3))
    return F.linear(x, sd["classifier.weight"], sd["classifier.bias"])


def test_densenet_matches_its_definition():
    ex = get_extractor("densenet_face")
    module = _perturb_bn(ex.build("random", seed=3), seed=3)
    x = _batch(ex, n=3, seed=9)
    with torch.inference_mode():
        torch.testing.assert_close(module(x), _densenet_reference(module.state_dict(), x),
                                   rtol=1e-4, atol=1e-5)


def test_densenet_growth_rate_compression_and_depth():
    ex = get_extractor("densenet_face")
    module = ex.build("random", seed=0)
    x = _batch(ex)
    names = ["features.conv0", "features.denseblock1", "features.transition1",
             "features.denseblock2", "features.transition2", "features.denseblock3"]
    with torch.inference_mode():
        shapes = {k: tuple(v.shape[1:]) for k, v in ex.features(module, x, names).items()}
    k = 32
    assert shapes["features.conv0"] == (2 * k, 48, 48)
    assert shapes["features.denseblock1"] == (2 * k + 3 * k, 48, 48)
    # each transition halves the channels (compression 0.5) and the map side
    for block in (1, 2):
        c, h, w = shapes[f"features.denseblock{block}"]
        assert shapes[f"features.transition{block}"] == (c // 2, h // 2, w // 2)
        c_next = shapes[f"features.denseblock{block + 1}"][0]
        assert c_next - c // 2 == 3 * k  # growth of 32 per dense layer, 3 layers
    assert shapes["features.denseblock3"][0] == module.classifier.in_features == 184
    convs = [m for m in module.features.modules() if isinstance(m, torch.nn.Conv2d)]
    assert {m.out_channels for n, m in module.features.named_modules()
            if n.endswith("conv1")} == {k}
    # depth: conv0 + 3 blocks × 3 layers + 2 transitions + classifier
    assert len(convs) + 1 == 13

    lighter = get_extractor("densenet_face", reduction=0.25).create()
    assert lighter.features.transition1.conv.out_channels == math.floor(0.75 * 160)
    bottleneck = get_extractor("densenet_face", bottleneck=True).create()
    layer = bottleneck.features.denseblock1.denselayer1
    assert len(bottleneck.features.denseblock1) == 1
    assert (layer.conv0.out_channels, layer.conv1.out_channels) == (4 * k, k)


def test_face_objectives_and_options():
    assert get_extractor("densenet_face").options["num_classes"] == 1503
    assert get_extractor("densenet_face", num_classes=7).objective == "expression"
    expr = get_extractor("densenet_face", objective="expression")
    assert expr.options["num_classes"] == 7 and expr.objective == "expression"
    assert get_extractor("resnet18_gray", objective="expression").options["num_classes"] == 7
    assert get_extractor("resnet18_gray").objective == "identity"
    with torch.inference_mode():
        assert expr.create().eval()(_batch(expr)).shape == (2, 7)
    for bad in ({"objective": "gender"}, {"depth": 12}, {"num_classes": 0},
                {"reduction": 1.0}, {"size": 8}):
        with pytest.raises(DataError):
            get_extractor("densenet_face", **bad)
    with pytest.raises(DataError, match="invalid options"):
        get_extractor("vggface", no_such_option=1)
    spec = get_extractor("resnet18_gray", size=224, mean=0.5, std=0.25).input_spec
    assert (spec.size, spec.grayscale, spec.mean, spec.std) == (224, True, (0.5,), (0.25,))


# --- grayscale input ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet18_gray", "densenet_face"])
def test_grayscale_networks_reject_rgb_batches(name):
    ex = get_extractor(name)
    assert ex.input_spec.grayscale and ex.input_spec.size == 48
    module = ex.build()
    assert module.state_dict()[
        "conv1.weight" if name == "resnet18_gray" else "features.conv0.weight"].shape[1] == 1
    rgb = torch.zeros(2, 3, 48, 48)
    with pytest.raises(DataError, match="grayscale.*luminance"):
        ex.features(module, rgb, ex.default_layers())


def test_densenet_on_real_faces(shared_data):
    """London faces as 48×48 grayscale: finite, image-specific, batch-independent features."""
    from PIL import Image

    paths = sorted((shared_data / "faces/london/neutral").glob("*.jpg"))[:3]
    assert len(paths) == 3
    ex = get_extractor("densenet_face")
    spec = ex.input_spec
    images = [np.asarray(Image.open(p).convert("L").resize((spec.size, spec.size),
                                                            Image.BILINEAR)) for p in paths]
    batch = (torch.tensor(np.stack(images), dtype=torch.float32)[:, None] / 255
             - spec.mean[0]) / spec.std[0]
    module = ex.build()
    with torch.inference_mode():
        feats = ex.features(module, batch, ex.default_layers())
        alone = ex.features(module, batch[1:2], ex.default_layers())
    for layer, value in feats.items():
        flat = value.reshape(3, -1)
        assert torch.isfinite(flat).all()
        assert torch.pdist(flat).min() > 0  # different faces, different features
        torch.testing.assert_close(alone[layer][0], value[1], rtol=1e-4, atol=1e-5)


# --- Siamese ------------------------------------------------------------------------------

def test_siamese_embedding_and_distance_head():
    ex = get_extractor("siamese", backbone="densenet_face", backbone_options={"num_classes": 7})
    module = ex.build("random", seed=4)
    assert ex.input_spec == get_extractor("densenet_face").input_spec
    layers = ex.layers()
    assert all(n.startswith("backbone.") for n in layers)
    assert "backbone.classifier" in layers and "backbone.classifier" not in ex.default_layers()
    x1, x2 = _batch(ex, n=3, seed=1), _batch(ex, n=3, seed=2)
    with torch.inference_mode():
        logit = module(x1, x2)
        f1 = ex.features(module, x1, ["backbone.avgpool", "backbone.classifier"])
        f2 = ex.features(module, x2, ["backbone.avgpool"])
    e1, e2 = f1["backbone.avgpool"].flatten(1), f2["backbone.avgpool"].flatten(1)
    assert e1.shape == (3, 184)
    torch.testing.assert_close(f1["backbone.classifier"], e1)  # the head is the embedding
    expected = (e1 - e2).abs() @ module.head.weight[0] + module.head.bias[0]  # symmetric
    torch.testing.assert_close(logit, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match="backbone"):
        ex.features(module, x1, ["avgpool"])


def test_siamese_with_torchvision_backbone_and_errors():
    ex = get_extractor("siamese", backbone="resnet18")
    assert ex.input_spec.size == 224 and not ex.input_spec.grayscale
    module = ex.build()
    assert module.head_name == "fc" and module.head.in_features == 512
    assert "backbone.fc" not in ex.default_layers()
    with pytest.raises(DataError, match="fully connected"):
        get_extractor("siamese", backbone="squeezenet1_0").build()
    with pytest.raises(DataError, match="Siamese"):
        get_extractor("siamese", backbone="siamese")


# --- weights files that do not fit --------------------------------------------------------

def test_mismatched_state_dict_names_keys(tmp_path):
    ex = get_extractor("densenet_face")
    state = ex.build().state_dict()
    del state["features.transition1.conv.weight"]
    state["features.extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(DataError) as err:
        ex.build(path)
    message = str(err.value)
    assert "missing keys: features.transition1.conv.weight" in message
    assert "unexpected keys: features.extra.weight" in message

    torch.save(get_extractor("densenet_face", num_classes=7).build().state_dict(), path)
    with pytest.raises(DataError, match=r"classifier.weight: file \(7, 184\) vs model"):
        ex.build(path)


def test_old_files_without_batchnorm_counters_load(tmp_path):
    ex = get_extractor("resnet18_gray")
    module = ex.build(seed=5)
    state = {k: v for k, v in module.state_dict().items() if "num_batches_tracked" not in k}
    torch.save(state, tmp_path / "old.pt")
    loaded = ex.build(tmp_path / "old.pt").state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_layer_names_ending_in_a_number_are_the_modules_own():
    """torchvision's tracer drops a trailing "_<n>" (conv1_1 -> conv1); names must not shift."""
    from ieegrsa.models.layers import hook_features

    extractor = get_extractor("vggface")
    layers = extractor.layers()
    assert layers[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    module = extractor.build("random", seed=0)
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        ours = extractor.features(module, x, ["conv1_2", "conv3_3"])
        hooked = hook_features(module, x, ["conv1_2", "conv3_3"])
    for name in ("conv1_2", "conv3_3"):
        assert torch.equal(ours[name], hooked[name])
