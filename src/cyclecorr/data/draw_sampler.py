"""Samplers that hand datasets *draws* rather than plain indices, sharded across ranks.

Datasets serve ``dataset[draw]`` as video ``draw % len(dataset)`` with randomness from
``np.random.default_rng([seed, draw])``. ``EpochDrawSampler`` yields ``epoch * n + perm[i]`` with
``perm`` a permutation of ``range(n)`` seeded by ``(seed, epoch)``, so every epoch visits every
video once with fresh clip randomness, and the run is reproducible and resumable.

Sharding rule (both samplers): the epoch's order is cut to a multiple of the world size (drop the
tail, ``drop_last=True``) or extended by wrapping around to its start (``drop_last=False``, so a
few draws repeat); rank ``r`` takes elements ``r, r + world, r + 2 world, ...``. Every rank then
gets the same count, and when ``world`` divides ``n`` the union over ranks is exactly one epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch.distributed as dist
from torch.utils.data import Sampler


def resolve_world(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """``(world, rank)`` from the arguments, else ``torch.distributed`` when initialised, else
    ``(1, 0)``."""
    initialised = dist.is_available() and dist.is_initialized()
    world = (
        num_replicas if num_replicas is not None else (dist.get_world_size() if initialised else 1)
    )
    rank = rank if rank is not None else (dist.get_rank() if initialised else 0)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(
            f"{__name__}: expected world size >= 1 and 0 <= rank < world, found world={world}, "
            f"rank={rank}; check num_replicas/rank."
        )
    return world, rank


def shard(order: np.ndarray, world: int, rank: int, drop_last: bool) -> np.ndarray:
    """Rank ``rank``'s share of ``order`` under the module's sharding rule."""
    if drop_last:
        order = order[: len(order) // world * world]
    else:
        total = -(-len(order) // world) * world  # ceil to a multiple of world
        order = np.resize(order, total)  # wraps around to the start
    return order[rank::world]


class EpochDrawSampler(Sampler[int]):
    """Shuffled draws for one epoch, reseeded per epoch, sharded across ranks, resumable.

    Args:
        dataset_len: number of videos n (``len(dataset)``).
        shuffle: permute per epoch; ``False`` keeps ``0..n-1`` (draws still offset by the epoch).
        seed: seed of the permutations (0 is valid).
        num_replicas: world size; default from ``torch.distributed`` (1 when not initialised).
        rank: this process's rank; default from ``torch.distributed`` (0 when not initialised).
        drop_last: drop the tail that does not divide by the world size (else wrap around).
        passes: permutations of the videos per epoch (default 1). A small video set (the 43
            clips of ``davis_videos``) otherwise gives one-batch epochs, and every epoch ends
            with the loader's workers idle while one of them assembles the last batch. Pass
            ``p`` of epoch ``e`` is the dataset epoch ``e * passes + p``, so draws stay unique.

    ``len(self)`` is always the full per-rank epoch length, also after resuming mid-epoch (the
    loop's batch counter then continues from where it stopped, as Lightning expects).
    """

    def __init__(
        self,
        dataset_len: int,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = True,
        passes: int = 1,
    ) -> None:
        if passes < 1:
            raise ValueError(f"{__name__}: passes must be >= 1, found {passes}.")
        self.passes = passes
        if dataset_len < 1:
            raise ValueError(f"{__name__}: dataset_len must be >= 1, found {dataset_len}.")
        self.dataset_len = dataset_len
        self.shuffle = shuffle
        self.seed = seed
        self.world, self.rank = resolve_world(num_replicas, rank)
        self.drop_last = drop_last
        if drop_last and dataset_len < self.world:
            raise ValueError(
                f"{__name__}: {dataset_len} videos cannot feed {self.world} ranks with "
                "drop_last=True; use more videos or drop_last=False."
            )
        self.epoch = 0
        self.start_index = 0  # where the next iteration of this epoch starts (resume point)
        self.yielded = 0  # samples handed out by the current iteration

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (Lightning calls this before each one); a new epoch starts at 0."""
        if epoch != self.epoch:
            self.start_index = 0
            self.yielded = 0
        self.epoch = epoch

    def draws(self) -> np.ndarray:
        """This rank's full draw list for the current epoch, ``(len(self),)`` int64."""
        passes = [self.epoch * self.passes + p for p in range(self.passes)]
        return np.concatenate([self.pass_draws(dataset_epoch) for dataset_epoch in passes])

    def pass_draws(self, dataset_epoch: int) -> np.ndarray:
        """This rank's draws of one permutation of the videos, ``(len(self) / passes,)``."""
        if self.shuffle:
            rng = np.random.default_rng([self.seed, dataset_epoch])
            order = rng.permutation(self.dataset_len)
        else:
            order = np.arange(self.dataset_len)
        mine = shard(order, self.world, self.rank, self.drop_last)
        return (dataset_epoch * self.dataset_len + mine).astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        self.yielded = 0
        for draw in self.draws()[self.start_index :].tolist():
            self.yielded += 1
            yield draw

    def __len__(self) -> int:
        if self.drop_last:
            return self.passes * (self.dataset_len // self.world)
        return self.passes * -(-self.dataset_len // self.world)

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch", "start_index"}``: samples of this epoch handed out on this rank.

        Exact when the sampler is read as samples are used; a DataLoader with workers reads
        ahead (``num_workers * prefetch_factor`` batches), so a trainer should prefer its own
        count of consumed batches (``ClipDataModule.state_dict`` does).
        """
        return {"epoch": self.epoch, "start_index": self.start_index + self.yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume: the next ``set_epoch(state["epoch"])`` and iteration skip consumed samples."""
        start = int(state["start_index"])
        if not 0 <= start <= len(self):
            raise ValueError(
                f"{__name__}: start_index must be in [0, {len(self)}], found {start}; the "
                "checkpoint was made with another dataset size, world size or batch size."
            )
        self.epoch = int(state["epoch"])
        self.start_index = start
        self.yielded = 0


class ShardedRangeSampler(Sampler[int]):
    """Draws ``0..n-1`` in order, sharded across ranks (validation: the same clips every time).

    Uses the module's sharding rule with wrap-around (``drop_last=False``), so every rank gets
    the same number of batches; up to ``world - 1`` draws are served twice.
    """

    def __init__(self, dataset_len: int, num_replicas: int | None = None, rank: int | None = None):
        if dataset_len < 1:
            raise ValueError(f"{__name__}: dataset_len must be >= 1, found {dataset_len}.")
        self.dataset_len = dataset_len
        self.world, self.rank = resolve_world(num_replicas, rank)

    def __iter__(self) -> Iterator[int]:
        return iter(shard(np.arange(self.dataset_len), self.world, self.rank, False).tolist())

    def __len__(self) -> int:
        return -(-self.dataset_len // self.world)
