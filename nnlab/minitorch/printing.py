"""How PyTorch prints a tensor, rebuilt on numpy: every entry in one format and one width
(4 decimals; '1.' when all are whole numbers; scientific notation when they span more than
1000x or leave [1e-4, 1e8]), 80 columns per line, and the first and last 3 entries of each
dimension when there are more than 1000 values.
"""
import math

import numpy as np

from .dtypes import get_default_dtype, to_torch_dtype

LINEWIDTH, PRECISION, THRESHOLD, EDGEITEMS = 80, 4, 1000, 3


class Formatter:
    def __init__(self, values):
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        values = values.reshape(-1)
        if not self.floating:
            self.width = max([len(str(v)) for v in values.tolist()], default=1)
            return
        finite = values[np.isfinite(values) & (values != 0)].astype(np.float64)
        if finite.size == 0:
            return
        low, high = np.abs(finite).min(), np.abs(finite).max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        self.sci_mode = high / low > 1000.0 or high > 1.0e8 or (not self.int_mode and low < 1.0e-4)
        if self.sci_mode:
            self.width = max(len(f"{v:.{PRECISION}e}") for v in finite.tolist())
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in finite.tolist())
        else:
            self.width = max(len(f"{v:.{PRECISION}f}") for v in finite.tolist())

    def format(self, value):
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{PRECISION}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{PRECISION}f}"
        return (self.width - len(text)) * " " + text


def _summarized(array):
    """The entries that are printed when the tensor is summarized (first and last EDGEITEMS of each axis)."""
    if array.ndim == 0:
        return array
    if array.shape[0] > 2 * EDGEITEMS:
        array = np.concatenate([array[:EDGEITEMS], array[-EDGEITEMS:]])
    return np.stack([_summarized(row) for row in array]) if array.ndim > 1 else array


def _vector(array, indent, summarize, formatter):
    per_line = max(1, int(math.floor((LINEWIDTH - indent) / (formatter.width + 2))))
    if summarize and array.shape[0] > 2 * EDGEITEMS:
        data = ([formatter.format(v) for v in array[:EDGEITEMS].tolist()] + [" ..."]
                + [formatter.format(v) for v in array[-EDGEITEMS:].tolist()])
    else:
        data = [formatter.format(v) for v in array.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor(array, indent, summarize, formatter):
    if array.ndim == 0:
        return formatter.format(array.item())
    if array.ndim == 1:
        return _vector(array, indent, summarize, formatter)
    if summarize and array.shape[0] > 2 * EDGEITEMS:
        rows = ([_tensor(array[i], indent + 1, summarize, formatter) for i in range(EDGEITEMS)] + ["..."]
                + [_tensor(array[i], indent + 1, summarize, formatter)
                   for i in range(len(array) - EDGEITEMS, len(array))])
    else:
        rows = [_tensor(array[i], indent + 1, summarize, formatter) for i in range(array.shape[0])]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def tensor_repr(tensor):
    """repr(tensor), as PyTorch writes it."""
    array, prefix = tensor.array, "tensor("
    indent, suffixes = len(prefix), []
    if array.size == 0:
        body = "[]"
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
    else:
        summarize = array.size > THRESHOLD
        formatter = Formatter(_summarized(array) if summarize else array)
        body = _tensor(array, indent, summarize, formatter)
    dtype = to_torch_dtype(array.dtype)
    if dtype.name not in (get_default_dtype().name, "int64", "bool"):
        suffixes.append(f"dtype={dtype}")
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{tensor.grad_fn.name()}>")
    elif tensor.requires_grad:
        suffixes.append("requires_grad=True")
    text, last_line = prefix + body, len(prefix + body) - (prefix + body).rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > LINEWIDTH:
            text += ",\n" + " " * indent + suffix
            last_line = indent + len(suffix)
        else:
            text += ", " + suffix
            last_line += len(suffix) + 2
    return text + ")"
