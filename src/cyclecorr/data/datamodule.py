"""LightningDataModule serving training clips as draws (docs/design.md, data/).

The train loader feeds ``EpochDrawSampler`` draws (``epoch * n + perm[i]``) to a dataset whose
``__getitem__(draw)`` serves video ``draw % len(dataset)`` with randomness from
``np.random.default_rng([seed, draw])``; the val loader feeds ``0..n-1`` in order, so the
validation clips are the same every time. Both are sharded across ranks by the samplers
themselves: trainer configs set ``use_distributed_sampler: false`` so Lightning keeps them.
``batch_size`` is the *global* batch; each rank loads ``batch_size // world_size``.

Datasets may be given as zero-argument callables (Hydra ``_partial_: true``): ``prepare_data``
(rank 0 of each node) constructs them once so that manifest caches are written before the other
ranks build theirs in ``setup``. The sampler position is saved with the checkpoint
(``state_dict``) and restored on resume, so an interrupted epoch continues its permutation.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Dataset

from cyclecorr.data.draw_sampler import EpochDrawSampler, ShardedRangeSampler

DatasetOrFactory = Dataset | Callable[[], Dataset]


def _build(source: DatasetOrFactory) -> Dataset:
    """The dataset itself, or the one a factory (e.g. a Hydra partial) constructs."""
    if isinstance(source, Dataset):
        return source
    if callable(source):
        return source()
    raise TypeError(
        f"{__name__}: expected a Dataset or a callable building one, found "
        f"{type(source).__name__}; pass the dataset (or a Hydra partial) as train/val_dataset."
    )


def _length(dataset: Dataset | None, name: str) -> int:
    """``len(dataset)``, with a clear error for a dataset without one."""
    if not isinstance(dataset, Sized):
        raise TypeError(
            f"{__name__}: the {name} dataset must define __len__ (number of videos), found "
            f"{type(dataset).__name__}; draws are taken modulo its length."
        )
    return len(dataset)


class ClipDataModule(L.LightningDataModule):
    """Train/val loaders over clip datasets, with per-epoch draws and DDP sharding.

    Args:
        train_dataset: a dataset of training-sample dicts, or a callable building one.
        val_dataset: the same for validation, or None (no validation loader).
        batch_size: GLOBAL batch size; must divide by the world size.
        num_workers: loader worker processes per rank.
        pin_memory: pin host memory (useful with a GPU).
        persistent_workers: keep workers alive between epochs (only with workers).
        prefetch_factor: batches prefetched per worker (only with workers).
        seed: seed of the per-epoch permutations (0 is valid).
        drop_last: drop the draws and the last batch that do not fill a whole global batch.
        min_clips_per_epoch: lengthen epochs over few videos to at least this many clips (whole
            passes over the videos, ``EpochDrawSampler(passes=...)``) so the loader's workers
            stay busy; 0 keeps one pass.
    """

    def __init__(
        self,
        train_dataset: DatasetOrFactory,
        val_dataset: DatasetOrFactory | None = None,
        batch_size: int = 8,
        num_workers: int = 2,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        prefetch_factor: int = 2,
        seed: int = 0,
        drop_last: bool = True,
        min_clips_per_epoch: int = 0,
    ) -> None:
        super().__init__()
        if batch_size < 1 or num_workers < 0:
            raise ValueError(
                f"{__name__}: expected batch_size >= 1 and num_workers >= 0, found "
                f"batch_size={batch_size}, num_workers={num_workers}; fix the data config."
            )
        self.train_source = train_dataset
        self.val_source = val_dataset
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.seed = seed
        self.drop_last = drop_last
        self.min_clips_per_epoch = min_clips_per_epoch
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.train_sampler: EpochDrawSampler | None = None
        self._resume_state: dict[str, Any] | None = None

    def prepare_data(self) -> None:
        """Construct factory-given datasets once (rank 0), writing their manifest caches."""
        self._build_datasets()

    def setup(self, stage: str | None = None) -> None:
        """Construct the datasets on every rank (cached manifests make this cheap)."""
        self._build_datasets()

    def _build_datasets(self) -> None:
        if self.train_set is None:
            self.train_set = _build(self.train_source)
        if self.val_set is None and self.val_source is not None:
            self.val_set = _build(self.val_source)

    def world(self) -> tuple[int, int]:
        """``(world_size, global_rank)`` from the attached trainer, else ``(1, 0)``."""
        if self.trainer is None:
            return 1, 0
        return self.trainer.world_size, self.trainer.global_rank

    @property
    def per_rank_batch_size(self) -> int:
        """``batch_size // world_size``; raises ValueError when it does not divide."""
        world, _ = self.world()
        if self.batch_size % world != 0:
            raise ValueError(
                f"{__name__}: batch_size {self.batch_size} is the global batch and must "
                f"divide by world_size {world}; set data.batch_size to a multiple of {world}."
            )
        return self.batch_size // world

    def _loader(self, dataset: Dataset, sampler: Any, drop_last: bool) -> DataLoader:
        workers = self.num_workers > 0
        return DataLoader(
            dataset,
            batch_size=self.per_rank_batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            drop_last=drop_last,
            persistent_workers=self.persistent_workers and workers,
            prefetch_factor=self.prefetch_factor if workers else None,
        )

    def train_dataloader(self) -> DataLoader:
        """Loader of ``EpochDrawSampler`` draws (Lightning calls its ``set_epoch``)."""
        self._build_datasets()
        assert self.train_set is not None
        world, rank = self.world()
        batch = self.per_rank_batch_size
        num_videos = _length(self.train_set, "train")
        sampler = EpochDrawSampler(
            num_videos,
            shuffle=True,
            seed=self.seed,
            num_replicas=world,
            rank=rank,
            drop_last=self.drop_last,
            passes=max(1, -(-self.min_clips_per_epoch // num_videos)),
        )
        if self._resume_state is not None:
            sampler.load_state_dict(self._resume_state)
            self._resume_state = None
        self.train_sampler = sampler
        if len(sampler) < batch and self.drop_last:
            raise ValueError(
                f"{__name__}: {num_videos} training videos give {len(sampler)} per "
                f"rank, fewer than one batch of {batch}; lower batch_size or add videos."
            )
        return self._loader(self.train_set, sampler, self.drop_last)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """Loader of draws ``0..n-1`` in order, sharded; ``[]`` without a val dataset."""
        self._build_datasets()
        if self.val_set is None:
            return []
        world, rank = self.world()
        sampler = ShardedRangeSampler(_length(self.val_set, "val"), num_replicas=world, rank=rank)
        return self._loader(self.val_set, sampler, drop_last=False)

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch", "start_index"}`` of the train sampler for checkpoints (``{}`` before it
        exists). With a trainer, the consumed count comes from its batch progress, since loader
        workers read the sampler ahead of training."""
        if self.train_sampler is None:
            return {}
        state = self.train_sampler.state_dict()
        if self.trainer is not None:
            current = self.trainer.fit_loop.epoch_loop.batch_progress.current
            # batches of this epoch whose step ran (the tracker is a _ProcessedTracker at runtime)
            done = int(getattr(current, "processed", current.completed))
            state["start_index"] = done * self.per_rank_batch_size
        if state["start_index"] >= len(self.train_sampler):  # epoch finished: next one from 0
            state = {"epoch": state["epoch"] + 1, "start_index": 0}
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the train sampler position (applied to the next train loader)."""
        if not state_dict:
            return
        self._resume_state = dict(state_dict)
        if self.train_sampler is not None:
            self.train_sampler.load_state_dict(self._resume_state)
            self._resume_state = None
