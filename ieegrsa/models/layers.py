"""Layers of a network and their activations: FX graph nodes, module outputs, forward hooks.

Shared by every extractor (see :class:`ieegrsa.models.Extractor`): the layer list of a module in
depth order, one feature extractor per (module, layers) built once and reused, and the hook
fallback for networks that FX cannot trace.
"""

from __future__ import annotations

import logging
from weakref import WeakKeyDictionary

from .._check import did_you_mean
from ..errors import DataError

__all__ = ["check_layers", "evenly_spaced", "hook_features", "without_inplace"]

logger = logging.getLogger("ieegrsa")

_LAYER_MEMO: WeakKeyDictionary = WeakKeyDictionary()
_FX_MEMO: WeakKeyDictionary = WeakKeyDictionary()


def _layer_table(module) -> tuple[list[str], bool]:
    """(layer names in depth order, whether FX traces the module); memoised per module.

    The names are the FX graph nodes of the eval-mode graph (what ``get_graph_node_names``
    gives, without inputs and outputs) plus every module path that prefixes them (``layer1``,
    ``features.3``): such a name stands for the last node under it, i.e. the module's output
    (as in ``create_feature_extractor``). A name sorts at its output's position in the graph,
    a container after the node it ends with.
    """
    return _trace(module)[:2]


def _trace(module) -> tuple[list[str], bool, dict[str, str]]:
    """(layer names, traceable, layer name -> the graph node whose output it is)."""
    if module not in _LAYER_MEMO:
        from torchvision.models.feature_extraction import NodePathTracer

        was_training = module.training
        try:
            module.eval()
            tracer = NodePathTracer()
            graph = tracer.trace(module)
            traced = [node for node in graph.nodes if node.op not in ("placeholder", "output")
                      and node in tracer.node_to_qualname]
            nodes = [tracer.node_to_qualname[node] for node in traced]  # torchvision's names
            # torchvision drops a trailing "_<n>" from every name (conv1_1 -> conv1), so a
            # module keeps its own path; only a repeated call of a module takes the suffixed name
            shown, seen = [], set()
            for node, qualname in zip(traced, nodes):
                name = node.target if node.op == "call_module" else qualname
                if name in seen:
                    name = qualname
                seen.add(name)
                shown.append(name)
            end = {}
            for i, name in enumerate(shown):
                parts = name.split(".")
                for depth in range(1, len(parts) + 1):
                    end[".".join(parts[:depth])] = i
            names = sorted(end, key=lambda name: (end[name], -name.count(".")))
            _LAYER_MEMO[module] = (names, True, {name: nodes[end[name]] for name in names})
        except Exception as err:  # FX cannot trace (data-dependent control flow …): hooks
            logger.debug("FX cannot trace %s (%s); using forward hooks", type(module).__name__,
                         err)
            names = [n for n, _ in module.named_modules() if n]
            _LAYER_MEMO[module] = (names, False, {name: name for name in names})
        finally:
            module.train(was_training)
    return _LAYER_MEMO[module]


def _fx_extractor(module, layers: tuple[str, ...]):
    """The FX feature extractor for (module, layers), built once and reused."""
    per_module = _FX_MEMO.setdefault(module, {})
    if layers not in per_module:
        from torchvision.models.feature_extraction import create_feature_extractor

        was_training = module.training
        try:
            extractor = create_feature_extractor(
                module, return_nodes=list(layers), suppress_diff_warning=True).eval()
            per_module[layers] = _protect_returned_nodes(extractor)
        finally:
            module.train(was_training)
    return per_module[layers]


def _protect_returned_nodes(graph_module):
    """Make every in-place consumer of a returned node out-of-place, so it keeps its value.

    Sub-modules are shared with the original network, whose results do not change.
    """
    output = next(node for node in graph_module.graph.nodes if node.op == "output")
    changed = False
    for node in output.all_input_nodes:
        for user in node.users:
            if user.op == "call_module":
                sub = graph_module.get_submodule(user.target)
                if getattr(sub, "inplace", False) is True:
                    sub.inplace = False
            elif user.kwargs.get("inplace") is True:  # F.relu(x, inplace=True) ...
                user.kwargs = {**user.kwargs, "inplace": False}
                changed = True
    if changed:
        graph_module.recompile()
    return graph_module


def hook_features(module, batch, layers) -> dict:
    """Outputs of the named sub-modules of ``module`` for ``batch``, by forward hooks.

    A module called more than once in a forward pass keeps its last output; a tuple output
    keeps its first tensor.
    """
    modules = dict(module.named_modules())
    out, handles = {}, []

    def keep(name):
        def hook(_mod, _inp, output):
            while isinstance(output, (tuple, list)):
                output = output[0]
            out[name] = output
        return hook

    try:
        for name in layers:
            handles.append(modules[name].register_forward_hook(keep(name)))
        module(batch)
    finally:
        for handle in handles:
            handle.remove()
    return {name: out[name] for name in layers}


def check_layers(extractor, layers, valid) -> None:
    """Raise a DataError naming the unknown layers and listing the valid ones."""
    valid_set = set(valid)
    unknown = [name for name in layers if name not in valid_set]
    if unknown:
        raise DataError(
            f"unknown layer(s) for {extractor.name!r}", field="layers", found=unknown,
            fix=f"{did_you_mean(unknown[0], valid, n=3)}valid layers (depth order): "
                f"{', '.join(valid)}",
        )


def evenly_spaced(items: list, n: int) -> list:
    """``n`` items spread evenly over ``items``, always keeping the last one."""
    if len(items) <= n:
        return list(items)
    idx = sorted({round(i * (len(items) - 1) / (n - 1)) for i in range(n)})
    return [items[i] for i in idx]


def without_inplace(module):
    """Turn off in-place operations (``nn.ReLU(inplace=True)`` ...) in every sub-module.

    An in-place ReLU overwrites its input, so the features of the node before it (``bn1`` in a
    ResNet) would come back already rectified. Used for networks read by forward hooks; traced
    networks turn off only the in-place consumers of requested layers (:func:`_fx_extractor`),
    since in-place ReLUs save ~15% of a ResNet-50's CPU time.
    """
    for sub in module.modules():
        if getattr(sub, "inplace", False) is True:
            sub.inplace = False
    return module
