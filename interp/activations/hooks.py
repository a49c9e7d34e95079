"""Capturing module inputs and outputs with forward hooks.

Works with any :class:`torch.nn.Module`; modules are named as in
``model.named_modules()`` (for a Hugging Face GPT-2 base model, for example,
``"h.0.mlp"``). A module's *input* is its first positional tensor argument
(or, failing that, its ``hidden_states`` keyword or first tensor keyword);
its *output* is the tensor it returns, or the first tensor of a returned
tuple. Captured tensors are detached, flattened to (tokens, width) and moved
to the CPU as float32.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm


class HookActivations(NamedTuple):
    """Activations captured at one module.

    Attributes
    ----------
    input : Tensor or None
        Module inputs, shape (tokens, d_in), if captured.
    output : Tensor or None
        Module outputs, shape (tokens, d_out), if captured.
    """

    input: Tensor | None
    output: Tensor | None


class _StopForward(Exception):
    """Raised from a hook to skip the rest of a forward pass."""


def _first_tensor(value: Any) -> Tensor | None:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        for item in value.values():
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _module_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor | None:
    if args and isinstance(args[0], Tensor):
        return args[0]
    if isinstance(kwargs.get("hidden_states"), Tensor):
        return kwargs["hidden_states"]
    return _first_tensor(kwargs) if not args else _first_tensor(args)


def _flatten(t: Tensor) -> Tensor:
    return t.detach().reshape(-1, t.shape[-1]).to(device="cpu", dtype=torch.float32)


def resolve_modules(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """Look up submodules by name, with a helpful error for unknown names.

    Parameters
    ----------
    model : nn.Module
        The model.
    names : sequence of str
        Dotted module names.

    Returns
    -------
    dict of str to nn.Module
    """
    if not names:
        raise ValueError("give at least one module name")
    modules: dict[str, nn.Module] = {}
    for name in names:
        try:
            modules[name] = model.get_submodule(name)
        except AttributeError:
            known = [n for n, _ in model.named_modules() if n]
            close = [n for n in known if n.split(".")[-1] == name.split(".")[-1]][:5]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise KeyError(f"model has no module named {name!r}{hint}") from None
    return modules


class ActivationRecorder:
    """Context manager that records module inputs and/or outputs.

    Parameters
    ----------
    model : nn.Module
        The model to hook.
    module_names : sequence of str
        Modules to record.
    inputs : bool
        Record module inputs (needed to train transcoders).
    outputs : bool
        Record module outputs.
    stop_early : bool
        Abort each forward pass once every hooked module has run once, saving
        the computation of later layers. Use :meth:`run` to forward a batch,
        which absorbs the abort. Assumes each module runs once per pass.

    Examples
    --------
    >>> with ActivationRecorder(model, ["h.0.mlp"], inputs=True) as rec:  # doctest: +SKIP
    ...     rec.run(input_ids=tokens)
    >>> acts = rec.collected()["h.0.mlp"]  # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        module_names: Sequence[str],
        *,
        inputs: bool = False,
        outputs: bool = True,
        stop_early: bool = True,
    ) -> None:
        if not (inputs or outputs):
            raise ValueError("record inputs, outputs or both")
        self.model = model
        self.modules = resolve_modules(model, list(module_names))
        self.record_inputs = inputs
        self.record_outputs = outputs
        self.stop_early = stop_early
        self._inputs: dict[str, list[Tensor]] = {name: [] for name in self.modules}
        self._outputs: dict[str, list[Tensor]] = {name: [] for name in self.modules}
        self._seen: set[str] = set()
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _hook(self, name: str):  # noqa: ANN202 - returns a torch hook
        def hook(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
            if self.record_inputs:
                x = _module_input(args, kwargs)
                if x is None:
                    raise RuntimeError(f"module {name!r} received no tensor input")
                self._inputs[name].append(_flatten(x))
            if self.record_outputs:
                y = _first_tensor(output)
                if y is None:
                    raise RuntimeError(f"module {name!r} returned no tensor")
                self._outputs[name].append(_flatten(y))
            self._seen.add(name)
            if self.stop_early and len(self._seen) == len(self.modules):
                raise _StopForward

        return hook

    def __enter__(self) -> ActivationRecorder:
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._hook(name), with_kwargs=True))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    @torch.no_grad()
    def run(self, *args: Any, **kwargs: Any) -> None:
        """Forward one batch through the model, recording the hooked modules."""
        self._seen.clear()
        try:
            self.model(*args, **kwargs)
        except _StopForward:
            pass
        missing = set(self.modules) - self._seen
        if missing:
            raise RuntimeError(f"modules did not run in the forward pass: {sorted(missing)}")

    def collected(self) -> dict[str, HookActivations]:
        """Everything recorded so far, concatenated over batches."""
        result: dict[str, HookActivations] = {}
        for name in self.modules:
            x = torch.cat(self._inputs[name]) if self._inputs[name] else None
            y = torch.cat(self._outputs[name]) if self._outputs[name] else None
            result[name] = HookActivations(x, y)
        return result


def collect_activations(
    model: nn.Module,
    batches: Iterable[Tensor],
    module_names: Sequence[str],
    *,
    inputs: bool = False,
    outputs: bool = True,
    progress: bool = True,
    total: int | None = None,
) -> dict[str, HookActivations]:
    """Run token batches through a model and collect module activations.

    Parameters
    ----------
    model : nn.Module
        A model called as ``model(input_ids=batch)``.
    batches : iterable of Tensor
        Token-id batches of shape (batch, seq).
    module_names : sequence of str
        Modules to record.
    inputs, outputs : bool
        What to record at each module.
    progress : bool
        Show a progress bar.
    total : int, optional
        Number of batches, for the progress bar.

    Returns
    -------
    dict of str to HookActivations
        Rows are tokens in batch order.
    """
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        with ActivationRecorder(model, module_names, inputs=inputs, outputs=outputs) as rec:
            for batch in tqdm(batches, desc="activations", disable=not progress, total=total):
                rec.run(input_ids=batch.to(device))
    finally:
        model.train(was_training)
    return rec.collected()
