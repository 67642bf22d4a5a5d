"""Tests for the epoch draw sampler: permutation per epoch, sharding, resume."""

import numpy as np
import pytest
from torch.utils.data import DataLoader

from cyclecorr.data.draw_sampler import EpochDrawSampler, ShardedRangeSampler


def test_one_epoch_is_a_permutation_offset_by_epoch() -> None:
    sampler = EpochDrawSampler(10, seed=0, num_replicas=1, rank=0)
    first = list(sampler)
    assert sorted(first) == list(range(10)) and first != list(range(10))
    sampler.set_epoch(3)
    third = list(sampler)
    assert sorted(third) == list(range(30, 40))
    assert [d - 30 for d in third] != first  # reseeded per epoch
    assert len(sampler) == 10


def test_reproducible_from_seed_and_epoch() -> None:
    a = EpochDrawSampler(50, seed=4, num_replicas=1, rank=0)
    b = EpochDrawSampler(50, seed=4, num_replicas=1, rank=0)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    c = EpochDrawSampler(50, seed=5, num_replicas=1, rank=0)
    c.set_epoch(2)
    assert list(c) != list(a)


def test_no_shuffle_is_in_order() -> None:
    sampler = EpochDrawSampler(5, shuffle=False, num_replicas=1, rank=0)
    sampler.set_epoch(1)
    assert list(sampler) == [5, 6, 7, 8, 9]


def test_shards_partition_the_epoch_when_world_divides() -> None:
    shards = []
    for rank in range(4):
        sampler = EpochDrawSampler(12, seed=1, num_replicas=4, rank=rank)
        sampler.set_epoch(1)
        shards.append(list(sampler))
        assert len(sampler) == 3 == len(shards[-1])
    union = sum(shards, [])
    assert sorted(union) == list(range(12, 24))  # every draw once, no duplicate
    whole = EpochDrawSampler(12, seed=1, num_replicas=1, rank=0)
    whole.set_epoch(1)
    assert [shards[i % 4][i // 4] for i in range(12)] == list(whole)  # rank r: every 4th


def test_uneven_drop_last_and_wrap_around() -> None:
    dropped = [list(EpochDrawSampler(10, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(s) for s in dropped] == [3, 3, 3]
    assert len(set(sum(dropped, []))) == 9  # one draw of the 10 is dropped, none repeats
    padded = [list(EpochDrawSampler(10, num_replicas=3, rank=r, drop_last=False)) for r in range(3)]
    assert [len(s) for s in padded] == [4, 4, 4]
    flat = sum(padded, [])
    assert set(flat) == set(range(10)) and len(flat) == 12  # 2 draws served twice


def test_resume_mid_epoch_continues_the_same_permutation() -> None:
    full = EpochDrawSampler(20, seed=7, num_replicas=2, rank=1)
    full.set_epoch(5)
    expected = list(full)
    running = EpochDrawSampler(20, seed=7, num_replicas=2, rank=1)
    running.set_epoch(5)
    iterator = iter(running)
    consumed = [next(iterator) for _ in range(4)]
    state = running.state_dict()
    assert state == {"epoch": 5, "start_index": 4}
    resumed = EpochDrawSampler(20, seed=7, num_replicas=2, rank=1)
    resumed.load_state_dict(state)
    resumed.set_epoch(5)  # Lightning calls this with the restored epoch
    rest = list(resumed)
    assert consumed + rest == expected
    assert len(resumed) == 10  # full epoch length: the loop's batch counter continues
    resumed.set_epoch(6)  # the next epoch starts from its beginning
    assert len(list(resumed)) == 10


def test_load_state_rejects_out_of_range() -> None:
    sampler = EpochDrawSampler(8, num_replicas=2, rank=0)
    with pytest.raises(ValueError, match="start_index must be in"):
        sampler.load_state_dict({"epoch": 0, "start_index": 5})


def test_world_from_arguments_validated() -> None:
    with pytest.raises(ValueError, match="rank"):
        EpochDrawSampler(8, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="drop_last"):
        EpochDrawSampler(2, num_replicas=4, rank=0)
    assert EpochDrawSampler(8).world == 1  # torch.distributed not initialised


def test_sharded_range_is_fixed_in_order() -> None:
    shards = [list(ShardedRangeSampler(7, num_replicas=3, rank=r)) for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4, 0], [2, 5, 1]]
    assert list(ShardedRangeSampler(4, num_replicas=1, rank=0)) == [0, 1, 2, 3]


def test_works_inside_a_dataloader() -> None:
    sampler = EpochDrawSampler(6, seed=0, num_replicas=1, rank=0)
    loader = DataLoader(list(range(100)), batch_size=2, sampler=sampler)
    sampler.set_epoch(2)
    batches = [b.tolist() for b in loader]
    assert len(batches) == 3 and sorted(np.concatenate(batches)) == list(range(12, 18))


def test_passes_chain_whole_permutations_with_unique_draws() -> None:
    """An epoch of ``passes`` permutations: every video ``passes`` times, no draw twice."""
    sampler = EpochDrawSampler(5, seed=3, num_replicas=1, rank=0, passes=3)
    assert len(sampler) == 15
    epochs = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        draws = list(sampler)
        assert len(draws) == 15
        assert sorted(d % 5 for d in draws) == sorted(list(range(5)) * 3)
        single = EpochDrawSampler(5, seed=3, num_replicas=1, rank=0)
        single.set_epoch(epoch * 3 + 1)  # pass 1 of this epoch is dataset epoch e * 3 + 1
        assert draws[5:10] == list(single)
        epochs.extend(draws)
    assert len(set(epochs)) == 30
    with pytest.raises(ValueError, match="passes"):
        EpochDrawSampler(5, passes=0)
