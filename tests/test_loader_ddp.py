"""``ds.pytorch(distributed=True)`` under real torch.distributed: two ranks (gloo, CPU, spawned)
get disjoint, equal-length shares of the epoch (the last ``n % world`` rows left out, as Deep Lake
v3 does), in an order that does not depend on the number of workers; without a seed, the ranks
agree on one. Without ``distributed=``, an initialized process group shards the loader too (v3);
``distributed=False`` does not."""

from __future__ import annotations

import json
import os

import torch.distributed as dist
import torch.multiprocessing as tmp

import deeplake_nb as dl
from test_loader_support import build, check_batch

WORLD = 2


def _rank_main(rank: int, init_file: str, path: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        ds = dl.load(path, read_only=True)
        result = {}
        for name, options in {
            "w0": dict(num_workers=0, seed=9),
            # a spawned rank's default start method is spawn: fork the workers, as under torchrun
            "w2": dict(num_workers=2, seed=9, multiprocessing_context="fork"),
            "unseeded": dict(num_workers=0),
            "tail_dropped": dict(num_workers=0, seed=9, drop_last=True),
            "auto": dict(num_workers=0, seed=9, distributed=None),
            "everything": dict(num_workers=0, seed=9, distributed=False),
        }.items():
            options = {"distributed": True, **options}
            loader = ds.pytorch(tensors=["vec", "labels"], batch_size=4, shuffle=True, **options)
            assert (loader.rank, loader.world_size) == ((0, 1) if name == "everything" else (rank, WORLD))
            result[name] = [[check_batch(b) for b in loader] for _ in range(2)]  # two epochs
            result[name + "_len"] = len(loader)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)


def _flat(batches):
    return [i for b in batches for i in b]


def test_two_ranks_share_every_epoch(tmp_path):
    n = 37  # not divisible by the world size: one row is left out
    path = str(tmp_path / "ds")
    build(path, n=n)
    tmp.spawn(_rank_main, args=(str(tmp_path / "init"), path, str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [json.load(open(tmp_path / f"rank{r}.json")) for r in range(WORLD)]

    for r in ranks:
        assert r["w0"] == r["w2"]  # same order for any number of workers
        assert r["w0"][0] != r["w0"][1]  # a new permutation every epoch
        assert len(r["w0"][0]) == r["w0_len"]
    for name in ("w0", "unseeded"):
        for e in range(2):
            shares = [_flat(r[name][e]) for r in ranks]
            assert len(shares[0]) == len(shares[1]) == 18 and not set(shares[0]) & set(shares[1])
            assert len(set(shares[0]) | set(shares[1])) == n - 1  # 37 samples, two shares of 18
    for e in range(2):
        shares = [_flat(r["tail_dropped"][e]) for r in ranks]
        assert len(shares[0]) == len(shares[1]) == 16 and not set(shares[0]) & set(shares[1])  # 18 each, less the partial batch
    assert ranks[0]["auto"] == ranks[0]["w0"] and ranks[1]["auto"] == ranks[1]["w0"]
    assert ranks[0]["everything"] == ranks[1]["everything"] and len(_flat(ranks[0]["everything"][0])) == n


def test_a_rank_or_world_size_that_is_no_int_is_refused_with_our_error():
    import numpy as np
    import pytest

    from deeplake_nb import errors

    ds = dl.empty("mem://ranks")
    ds.create_tensor("x")
    ds.x.extend(np.arange(10))
    for options in ({"rank": 0, "world_size": "2"}, {"rank": 0, "world_size": 2.5}, {"rank": True, "world_size": 2},
                    {"rank": 0, "world_size": 0}):
        with pytest.raises(errors.LoaderOptionError, match="rank|world_size"):
            ds.pytorch(**options)
    assert sum(len(b["x"]) for b in ds.pytorch(rank=np.int64(1), world_size=np.int64(2), batch_size=2)) == 5
