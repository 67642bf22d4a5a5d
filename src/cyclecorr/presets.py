"""Named configs outside a Hydra run: the propagation presets by name.

``conf/protocol/<name>.yaml`` is a preset's one definition. Inside a Hydra run the ``protocol``
config group composes it; ``load_protocol`` reads the same files for code that names a preset
directly (the benchmark, the baselines table, tests). It sits just below the entry points: the
library below never reads a config (``make lint``'s import contract).
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from cyclecorr.eval.propagation.protocols import PropagationProtocol
from cyclecorr.utils.config import conf_dir, register_resolvers


def load_protocol(name: str, **overrides: Any) -> PropagationProtocol:
    """The preset ``conf/protocol/<name>.yaml`` as a ``PropagationProtocol``, fields overridden.

    For code that picks a preset by name outside a Hydra run (the benchmark, the baselines table,
    tests); inside one, compose the ``protocol`` group instead.

    Raises:
        ValueError: no such preset (the available ones are named), or an unknown field.
    """
    register_resolvers()
    path = conf_dir() / "protocol" / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ValueError(
            f"{__name__}: unknown protocol {name!r}; expected one of {names} (the files of "
            f"{path.parent})"
        )
    cfg = OmegaConf.load(path)
    fields = set(PropagationProtocol.__dataclass_fields__)
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"{__name__}: unknown protocol field(s) {unknown}; valid fields are {sorted(fields)}"
        )
    merged = OmegaConf.to_container(OmegaConf.merge(cfg, overrides), resolve=True)
    assert isinstance(merged, dict)
    return PropagationProtocol(**{str(k): v for k, v in merged.items() if k != "_target_"})
