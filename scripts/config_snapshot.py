"""Resolved configs of every documented composition, to compare two checkouts key by key.

    python scripts/config_snapshot.py dump <folder>            # this checkout's configs
    python scripts/config_snapshot.py compare <before> <after> [--rename OLD=NEW ...]

``dump`` composes train.yaml (no experiment, each experiment, debug presets, model=crw),
evaluate.yaml (each encoder x protocol, each eval task) and propagate.yaml, resolves everything
but the ``hydra`` node (the checkout's own path written as ``<checkout>``) and writes one YAML per
composition (a composition that fails is written as its error). ``compare`` flattens both sides
to dotted keys and prints, per composition, the keys only one side has and the values that
differ, after replacing each ``OLD`` prefix of a string value by ``NEW`` (moved ``_target_``
modules); it exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from cyclecorr.utils.config import conf_dir, register_resolvers

EXPERIMENTS = (
    "real_cpu",
    "davis_videos",
    "kinetics",
    "vlog",
    "paper",
    "crw_real_cpu",
    "crw_kinetics",
)
REQUIRED = {
    "kinetics": ["data.root=/x"],
    "crw_kinetics": ["data.root=/x"],
    "vlog": ["data.list_file=/x"],
    "paper": ["data.list_file=/x"],
}


def compositions() -> dict[str, tuple[str, list[str]]]:
    """Name -> (entry config, overrides) of every composition the snapshot holds."""
    out: dict[str, tuple[str, list[str]]] = {"train_default": ("train", [])}
    for name in EXPERIMENTS:
        out[f"train_{name}"] = ("train", [f"experiment={name}", *REQUIRED.get(name, [])])
    out["train_debug_fast"] = ("train", ["debug=fast"])
    out["train_crw_real_cpu_crw_tiny"] = ("train", ["experiment=crw_real_cpu", "debug=crw_tiny"])
    out["train_model_crw"] = ("train", ["model=crw"])
    encoders = sorted(p.stem for p in (conf_dir() / "encoder").glob("*.yaml"))
    protocols = sorted(p.stem for p in (conf_dir() / "protocol").glob("*.yaml"))
    for enc in encoders:
        for proto in protocols:
            out[f"eval_{enc}_{proto}"] = (
                "evaluate",
                [f"encoder={enc}", f"protocol={proto}", "ckpt_path=/c"],
            )
    for task in sorted(p.stem for p in (conf_dir() / "eval").glob("*.yaml")):
        out[f"evaltask_{task}"] = ("evaluate", [f"eval={task}"])
    out["propagate"] = ("propagate", ["video=v.mp4", "mask=m.png", "ckpt_path=/c"])
    return out


def resolved(config: str, overrides: list[str]) -> dict[str, Any]:
    """The composition resolved, without the ``hydra`` node."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config, overrides=[*overrides, "run_name=R"], return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        return {
            str(k): OmegaConf.to_container(cfg[k], resolve=True)
            if OmegaConf.is_config(cfg[k])
            else cfg[k]
            for k in cfg
            if k != "hydra"
        }


def dump(folder: Path) -> None:
    register_resolvers()
    folder.mkdir(parents=True, exist_ok=True)
    for name, (config, overrides) in compositions().items():
        try:
            cfg = resolved(config, overrides)
            root = str(cfg["paths"]["root_dir"])  # two checkouts differ here only by location
            text = yaml.safe_dump(cfg, sort_keys=True).replace(root, "<checkout>")
        except Exception as err:  # noqa: BLE001 - a failing composition is a result too
            text = yaml.safe_dump({"ERROR": f"{type(err).__name__}: {err}"})
        (folder / f"{name}.yaml").write_text(text)
    print(f"wrote {len(compositions())} compositions to {folder}")


def flat(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> leaf value (lists indexed as ``key.0``)."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in items:
        out.update(flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def renamed(value: Any, renames: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in renames:
            if value.startswith(old):
                return new + value[len(old) :]
    return value


def compare(before: Path, after: Path, renames: list[tuple[str, str]]) -> int:
    changed = 0
    for name in sorted(
        {p.name for p in before.glob("*.yaml")} | {p.name for p in after.glob("*.yaml")}
    ):
        a = flat(yaml.safe_load((before / name).read_text())) if (before / name).exists() else {}
        b = flat(yaml.safe_load((after / name).read_text())) if (after / name).exists() else {}
        a = {k: renamed(v, renames) for k, v in a.items()}
        lines = [f"  - {k} = {a[k]!r}" for k in sorted(set(a) - set(b))]
        lines += [f"  + {k} = {b[k]!r}" for k in sorted(set(b) - set(a))]
        lines += [f"  ~ {k}: {a[k]!r} -> {b[k]!r}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
        print(f"{name[:-5]}: {'identical' if not lines else f'{len(lines)} difference(s)'}")
        print("\n".join(lines)) if lines else None
        changed += bool(lines)
    return int(changed > 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("folder", type=Path)
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.folder)
        return 0
    pairs = [tuple(r.split("=", 1)) for r in args.rename]
    return compare(args.before, args.after, pairs)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
