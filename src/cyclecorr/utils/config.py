"""Run-time helpers for the Hydra entry points: where the configs live, resolvers, resuming.

The Hydra configs ship inside the package (``cyclecorr/conf``; the checkout's top-level ``conf``
points there), so ``python -m cyclecorr.train`` and the console scripts work from any working
directory, from an editable install or a wheel. The ``repo_root`` resolver names the project root
for ``conf/paths/default.yaml``: the checkout when the package runs from one, else the current
working directory. No config object is read by library code; these helpers take plain values.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from omegaconf import OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../cyclecorr
CONF_DIR = PACKAGE_DIR / "conf"
LAST_CKPT_RELPATH = Path("checkpoints") / "last.ckpt"


def project_root() -> Path:
    """The checkout the package runs from (``src/cyclecorr/..``), else the working directory.

    Run folders (``logs/``) and the default data path (``../shared/data``) are relative to it.
    """
    checkout = PACKAGE_DIR.parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "src" / "cyclecorr").is_dir():
        return checkout
    return Path.cwd()


REPO_ROOT = project_root()


def conf_dir() -> Path:
    """Return the absolute path of the packaged ``conf/`` folder.

    Raises:
        FileNotFoundError: the configs are missing from the installed package.
    """
    if not (CONF_DIR / "train.yaml").is_file():
        raise FileNotFoundError(
            f"{__name__}: expected the Hydra configs at {CONF_DIR}/train.yaml but "
            "found none; reinstall the package (`pip install .` ships them)."
        )
    return CONF_DIR


def floordiv(numerator: int, denominator: int) -> int:
    """Integer division for configs: ``${floordiv:${data.crop_size},8}`` (feature cells).

    Raises:
        ValueError: the numerator is not a multiple of the denominator (sizes would drift).
    """
    if int(numerator) % int(denominator) != 0:
        raise ValueError(
            f"{__name__}: {numerator} is not a multiple of {denominator}; crop "
            "sizes must be multiples of 24 (patch = crop/3, features = 1/8), e.g. 144 or 240."
        )
    return int(numerator) // int(denominator)


def release_tau() -> float:
    """The release's affinity temperature ``512 ** -0.5`` (``${release_tau:}`` in configs)."""
    from cyclecorr.ops.affinity import DEFAULT_TAU

    return DEFAULT_TAU


def register_resolvers() -> None:
    """Register the ``${repo_root:}``, ``${floordiv:a,b}`` and ``${release_tau:}`` resolvers.

    Idempotent. Call it before composing any config that uses ``conf/paths/default.yaml``, derives
    feature sizes from the crop size or names the release's temperature.
    """
    if not OmegaConf.has_resolver("repo_root"):
        OmegaConf.register_new_resolver("repo_root", lambda: str(REPO_ROOT))
    if not OmegaConf.has_resolver("floordiv"):
        OmegaConf.register_new_resolver("floordiv", floordiv)
    if not OmegaConf.has_resolver("release_tau"):
        OmegaConf.register_new_resolver("release_tau", release_tau)


class ResumeChoice(NamedTuple):
    """Which checkpoint ``Trainer.fit`` should resume from, and a sentence saying why."""

    ckpt_path: str | None
    message: str


def choose_resume_checkpoint(
    resume: bool, ckpt_path: str | None, output_dir: str | Path
) -> ResumeChoice:
    """Decide where to resume from.

    Args:
        resume: resume from ``<output_dir>/checkpoints/last.ckpt`` when it exists.
        ckpt_path: an explicit checkpoint file; wins over ``resume``.
        output_dir: the run folder.

    Returns:
        ``ResumeChoice(ckpt_path or None, message)``; ``None`` means start fresh.

    Raises:
        FileNotFoundError: ``ckpt_path`` is given but is not a file.
    """
    if ckpt_path is not None:
        if not Path(ckpt_path).is_file():
            raise FileNotFoundError(
                f"{__name__}: ckpt_path={ckpt_path} is not a file; pass an "
                "existing .ckpt, or use resume=true to pick up <run dir>/checkpoints/last.ckpt."
            )
        return ResumeChoice(str(ckpt_path), f"Resuming from ckpt_path={ckpt_path}.")
    if not resume:
        return ResumeChoice(None, "Starting a fresh run.")
    last = Path(output_dir) / LAST_CKPT_RELPATH
    if last.is_file():
        return ResumeChoice(str(last), f"resume=true: resuming from {last}.")
    return ResumeChoice(None, f"resume=true but {last} does not exist: starting a fresh run.")


def keep_previous_metrics(output_dir: str | Path) -> Path | None:
    """Rename an existing ``metrics.csv`` so a resumed run's CSV logger does not delete it.

    Lightning's CSV logger removes ``metrics.csv`` when it opens a non-empty run folder; on
    resume the rows written before the interruption move to ``metrics.<n>.csv`` instead.

    Args:
        output_dir: the run folder.

    Returns:
        The new path of the old file, or ``None`` when there was nothing to keep.
    """
    old = Path(output_dir) / "metrics.csv"
    if not old.is_file():
        return None
    index = 0
    while (Path(output_dir) / f"metrics.{index}.csv").exists():
        index += 1
    kept = old.rename(Path(output_dir) / f"metrics.{index}.csv")
    return kept
