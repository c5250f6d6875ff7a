"""What one worker does: run the pipeline over its share of the inputs, one input at a time,
into output buffers (``TransformDataset``), and report per input what it wrote, or why not.

A worker never touches ``ds_out``: the outputs go back to the caller, which lands them in input
order (``land``). With ``ignore_errors`` an input whose function raises is recorded and skipped;
otherwise the share stops at it.
"""

from __future__ import annotations

import pickle
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..core.tensor import Tensor
from ..errors import SampleError
from ..format.sample import Sample
from .transform_dataset import TransformDataset

Output = dict[str, list[Any]]  # tensor name (relative to ds_out) -> the values one input produced


@dataclass
class Job:
    """Inputs ``[start, stop)`` of ``data_in`` (``items[i - offset]``) for one worker."""

    functions: Sequence[Any]  # ComputeFunctions, applied in order
    items: Any
    offset: int
    start: int
    stop: int
    tensors: tuple[str, ...]  # ds_out's tensors, relative to it
    links: frozenset[str]  # which of them are link tensors
    ignore_errors: bool
    portable: bool = False  # results travel to another process: dataset values become plain values


@dataclass
class Failure:
    index: int
    error: BaseException
    trace: str  # the traceback, formatted where it happened


@dataclass
class ShareResult:
    start: int
    outputs: list[tuple[int, Output]] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)
    failure: Failure | None = None


def apply(functions: Sequence[Any], item: Any, tensors: Sequence[str]) -> Output:
    """Run the pipeline on one input: each function is called on every row the previous one wrote
    (the first on ``item``). Return what the last one wrote."""
    inputs: Sequence[Any] = [item]
    out = TransformDataset(tensors)
    for fn in functions:
        out = TransformDataset(tensors)
        for sample_in in inputs:
            fn(sample_in, out)  # what it returns is ignored, as in Deep Lake v3
            check_rows(out, fn)
        inputs = list(out)
    return out.written()


def check_rows(out: TransformDataset, fn: Any) -> None:
    """Every tensor a function wrote to must have as many values as the others it wrote to."""
    lengths = {name: len(values) for name, values in out.written().items()}
    if len(set(lengths.values())) > 1:
        raise SampleError(f"{getattr(fn, 'name', fn)} wrote a different number of values to its tensors: {lengths}. "
                          "Each row needs one value in every tensor it writes (tensors left out of a row get none).")


def run_share(job: Job, tick: Callable[[int], None] | None = None) -> ShareResult:
    """Run ``job``; ``tick(1)`` after each input."""
    result = ShareResult(job.start)
    for i in range(job.start, job.stop):
        try:
            output = apply(job.functions, job.items[i - job.offset], job.tensors)
            _read_files(output)
            if job.portable:
                output = _portable_output(output, job.links)
        except Exception as exc:
            failure = Failure(i, exc, traceback.format_exc())
            if not job.ignore_errors:
                result.failure = failure
                return result
            result.skipped.append(failure)
        else:
            result.outputs.append((i, output))
        if tick is not None:
            tick(1)
    return result


def run_pickled(payload: bytes) -> ShareResult:
    """``run_share`` in a worker process: the job comes pickled, errors go back picklable."""
    result = run_share(pickle.loads(payload))
    for failure in result.skipped + ([result.failure] if result.failure else []):
        failure.error = _portable_error(failure.error)
    return result


def _read_files(output: Output) -> None:
    """Read the files behind ``dl.read`` samples here, in the worker, where reads run in parallel
    (a missing file then fails its input), and their headers, which the samples keep (and carry
    to the process that lands them): landing, which runs alone after the workers, then finds them
    read. A header that does not read is left for landing to refuse, naming the input."""
    for values in output.values():
        for value in values:
            if isinstance(value, Sample):
                value.buffer  # noqa: B018 - reads the file and keeps its bytes
                try:
                    value.header  # noqa: B018 - kept by the sample
                except SampleError:
                    pass


def _portable_output(output: Output, links: frozenset[str]) -> Output:
    """Dataset samples (``sample_in.x``) as plain values, which can be pickled."""
    return {name: [v.as_value(link=name in links) if isinstance(v, Tensor) else v for v in values]
            for name, values in output.items()}


def _portable_error(error: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
