"""Tests for ClipDataModule: global batch, draws per epoch, sharding, factories, resume."""

from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import Dataset

from cyclecorr.data.datamodule import ClipDataModule


class FakeClips(Dataset):
    """Tiny stand-in for a clip dataset: the design.md dict, with the draw as ``index``."""

    def __init__(self, length: int = 12) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, draw: int) -> dict[str, torch.Tensor]:
        gen = torch.Generator().manual_seed(draw)  # stands in for default_rng([seed, draw])
        return {
            "frames": torch.randn(5, 3, 24, 24, generator=gen),
            "patch": torch.zeros(3, 8, 8),
            "theta": torch.tensor([[1 / 3, 0.0, 0.0], [0.0, 1 / 3, 0.0]]),
            "index": torch.tensor(draw, dtype=torch.int64),
            "skipped": torch.tensor(0, dtype=torch.int64),
        }


def _draws(loader) -> list[int]:
    return [int(i) for batch in loader for i in batch["index"]]


def test_train_loader_serves_one_epoch_of_draws() -> None:
    dm = ClipDataModule(FakeClips(12), batch_size=4, num_workers=0, seed=3)
    dm.setup("fit")
    loader = dm.train_dataloader()
    batch = next(iter(loader))
    assert batch["frames"].shape == (4, 5, 3, 24, 24) and batch["theta"].shape == (4, 2, 3)
    first = _draws(loader)
    assert sorted(first) == list(range(12)) and first != list(range(12))
    loader.sampler.set_epoch(1)
    assert sorted(_draws(loader)) == list(range(12, 24))


def test_factories_are_built_once_per_process() -> None:
    built = []

    def factory() -> FakeClips:
        built.append(1)
        return FakeClips(6)

    dm = ClipDataModule(factory, val_dataset=lambda: FakeClips(5), batch_size=2, num_workers=0)
    dm.prepare_data()
    dm.setup("fit")
    assert len(built) == 1 and len(dm.train_set) == 6 and len(dm.val_set) == 5


def test_global_batch_divided_by_world_size() -> None:
    dm = ClipDataModule(FakeClips(12), batch_size=6, num_workers=0)
    dm.trainer = SimpleNamespace(world_size=2, global_rank=1)
    assert dm.per_rank_batch_size == 3
    assert dm.train_dataloader().batch_size == 3
    bad = ClipDataModule(FakeClips(12), batch_size=36, num_workers=0)
    bad.trainer = SimpleNamespace(world_size=5, global_rank=0)
    with pytest.raises(ValueError, match="batch_size 36 is the global batch .* world_size 5"):
        bad.train_dataloader()


def test_ranks_split_the_epoch_without_duplicates() -> None:
    shards = []
    for rank in range(2):
        dm = ClipDataModule(FakeClips(12), batch_size=4, num_workers=0, seed=1)
        dm.trainer = SimpleNamespace(world_size=2, global_rank=rank)
        shards.append(_draws(dm.train_dataloader()))
    assert [len(s) for s in shards] == [6, 6]
    assert sorted(shards[0] + shards[1]) == list(range(12))


def test_val_loader_is_fixed_and_in_order() -> None:
    dm = ClipDataModule(FakeClips(12), val_dataset=FakeClips(5), batch_size=2, num_workers=0)
    assert _draws(dm.val_dataloader()) == [0, 1, 2, 3, 4]
    assert _draws(dm.val_dataloader()) == [0, 1, 2, 3, 4]
    assert ClipDataModule(FakeClips(4), num_workers=0).val_dataloader() == []


def test_too_few_videos_for_a_batch_raises() -> None:
    with pytest.raises(ValueError, match="fewer than one batch"):
        ClipDataModule(FakeClips(3), batch_size=4, num_workers=0).train_dataloader()


class _Recorder(L.LightningModule):
    """Minimal system that records the draws it trains on."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.seen: list[int] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.seen += batch["index"].tolist()
        return (self.weight * batch["frames"].mean()) ** 2

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _trainer(root: Path, **kwargs) -> L.Trainer:
    kwargs.setdefault("enable_checkpointing", False)
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        default_root_dir=root,
        **kwargs,
    )


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("steps", "state"), [(8, (1, 4)), (6, (1, 0))])
def test_lightning_resume_continues_the_permutation(
    tmp_path: Path, steps: int, state: tuple[int, int]
) -> None:
    reference = _Recorder()
    _trainer(tmp_path, max_epochs=2).fit(
        reference, ClipDataModule(FakeClips(12), batch_size=2, num_workers=0)
    )
    assert sorted(reference.seen) == list(range(24))  # set_epoch reached the sampler

    first = _Recorder()
    saver = ModelCheckpoint(tmp_path, "mid", every_n_train_steps=steps, save_top_k=-1)
    trainer = _trainer(tmp_path, max_steps=steps, callbacks=[saver], enable_checkpointing=True)
    trainer.fit(first, ClipDataModule(FakeClips(12), batch_size=2, num_workers=0))
    ckpt = tmp_path / "mid.ckpt"  # 8: after 2 of epoch 1's 6 batches; 6: at the end of epoch 0
    saved = torch.load(ckpt, weights_only=False)["ClipDataModule"]
    assert saved == {"epoch": state[0], "start_index": state[1]}

    second = _Recorder()
    datamodule = ClipDataModule(FakeClips(12), batch_size=2, num_workers=0)
    _trainer(tmp_path, max_epochs=2).fit(second, datamodule, ckpt_path=ckpt)
    assert first.seen + second.seen == reference.seen


def test_non_dataset_argument_raises() -> None:
    with pytest.raises(TypeError, match="expected a Dataset or a callable"):
        ClipDataModule(FakeClips(4), 2, num_workers=0).setup("fit")  # 2 is val_dataset
