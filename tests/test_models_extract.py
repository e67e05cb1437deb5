"""Reduction of layer features (PCA against scikit-learn, the sparse random projection), the
device check, and extract_features on real photos.

Reference: scikit-learn's PCA.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from _models import SMALL  # noqa: E402

from ieegrsa.errors import DataError  # noqa: E402
from ieegrsa.models.extract import extract_features, pca_scores, sparse_projection  # noqa: E402

# --- reduction ----------------------------------------------------------------------------

def test_pca_scores_match_sklearn():
    decomposition = pytest.importorskip("sklearn.decomposition")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 50)) @ np.diag(np.linspace(3, 0.1, 50))
    x[:, 7] = x[:, 3]  # tied columns
    ours = pca_scores(x.astype(np.float32), block=16)
    reference = decomposition.PCA(n_components=11, svd_solver="full").fit_transform(x)
    assert ours.shape == (12, 12)
    np.testing.assert_allclose(np.abs(ours[:, :11]), np.abs(reference), atol=1e-4)
    signs = np.sign(ours[np.abs(ours).argmax(axis=0), np.arange(12)])
    assert np.all(signs[:11] > 0)
    # all components keep the centred Euclidean geometry
    xc = x - x.mean(axis=0)
    gram = xc @ xc.T
    np.testing.assert_allclose(ours @ ours.T, gram, atol=1e-3 * np.abs(gram).max())


def test_sparse_projection_is_seeded_and_scaled():
    p, k = 400, 300
    r = sparse_projection(p, k, seed=0)
    assert r.shape == (p, k)
    np.testing.assert_array_equal(r.toarray(), sparse_projection(p, k, seed=0).toarray())
    assert (r != sparse_projection(p, k, seed=1)).nnz > 0
    values = np.unique(np.abs(r.data))
    np.testing.assert_allclose(values, [np.sqrt(np.sqrt(p) / k)], rtol=1e-6)
    assert abs(r.nnz / (p * k) - 1 / np.sqrt(p)) < 0.01
    x = np.random.default_rng(2).normal(size=(200, p)).astype(np.float32)
    ratio = (np.asarray(x @ r) ** 2).sum(1) / (x ** 2).sum(1)
    assert abs(ratio.mean() - 1) < 0.05


def test_reduction_through_extract_features(arrays):
    common = dict(layers=["layer1", "fc"], transform=SMALL, batch_size=4)
    raw = extract_features("resnet18", arrays, **common)
    pca = extract_features("resnet18", arrays, **common, reduce="pca", n_components=4)
    assert {k: v.shape for k, v in pca.items()} == {"layer1": (6, 4), "fc": (6, 4)}
    np.testing.assert_allclose(pca["fc"], pca_scores(raw["fc"])[:, :4], rtol=1e-4, atol=1e-4)
    srp = extract_features("resnet18", arrays, **common, reduce="srp", n_components=20,
                           reduce_seed=3)
    assert srp["layer1"].shape == (6, 20)
    projected = raw["layer1"] @ sparse_projection(raw["layer1"].shape[1], 20, seed=3)
    np.testing.assert_allclose(srp["layer1"], projected, rtol=1e-4, atol=1e-4)
    other = extract_features("resnet18", arrays, **common, reduce="srp", n_components=20,
                             reduce_seed=4)
    assert not np.allclose(other["layer1"], srp["layer1"])
    # a layer narrower than n_components is kept whole
    wide = extract_features("resnet18", arrays, ["avgpool"], transform=SMALL, reduce="srp",
                            n_components=1000)
    np.testing.assert_array_equal(wide["avgpool"],
                                  extract_features("resnet18", arrays, ["avgpool"],
                                                   transform=SMALL)["avgpool"])
    with pytest.raises(DataError, match="unknown reduction"):
        extract_features("resnet18", arrays, ["fc"], reduce="umap")
    with pytest.raises(DataError, match="n_components needs"):
        extract_features("resnet18", arrays, ["fc"], n_components=3)
    with pytest.raises(DataError, match="unknown transform field"):
        extract_features("resnet18", arrays, ["fc"], transform={"sise": 3})


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_a_clear_error(arrays):
    with pytest.raises(DataError, match="no CUDA device"):
        extract_features("resnet18", arrays, ["fc"], device="cuda")


# --- real images --------------------------------------------------------------------------

@pytest.mark.realdata
def test_london_faces_through_resnet18(shared_data, tmp_path, count_forward):
    folder = shared_data / "faces" / "london" / "neutral"
    paths = sorted(folder.glob("*.jpg"))[:12]
    first = extract_features("resnet18", paths, cache_dir=tmp_path, batch_size=8)
    assert list(first) == ["layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    assert first["layer1"].shape == (12, 64 * 56 * 56) and first["fc"].shape == (12, 1000)
    assert all(np.isfinite(v).all() for v in first.values())
    assert first.labels == [str(p) for p in paths]
    assert len(count_forward) == 2
    count_forward.clear()
    again = extract_features("resnet18", paths, cache_dir=tmp_path, batch_size=8)
    assert count_forward == [] and all(again.provenance["cached"].values())
    np.testing.assert_array_equal(first["fc"], again["fc"])
    # cropped to the landmarks' face box: other features, same shapes
    tems = [shared_data / "faces" / "london" / "landmarks" / (p.stem + ".tem") for p in paths]
    cropped = extract_features("resnet18", paths, ["avgpool"], landmarks=tems, batch_size=12)
    assert cropped["avgpool"].shape == (12, 512)
    assert not np.allclose(cropped["avgpool"], first["avgpool"])


def test_in_place_relu_does_not_overwrite_the_layer_before_it():
    """torchvision's ResNets use ReLU(inplace=True): bn1 must come back before rectification."""
    images = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    features = extract_features("resnet18", images, layers=["bn1", "relu"],
                                transform={"size": 64, "resize": None})
    assert features["bn1"].min() < 0
    np.testing.assert_array_equal(np.maximum(features["bn1"], 0), features["relu"])
