"""The committed gRPC stubs are exactly what scripts/gen-protos produces from proto/."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_regenerating_the_stubs_changes_nothing(tmp_path: Path):
    subprocess.run(
        [str(ROOT / "scripts" / "gen-protos"), str(tmp_path)], check=True, env={**os.environ, "PYTHON": sys.executable}
    )
    generated = _stubs(tmp_path, tmp_path)
    committed = sorted(path for d in ("agent", "controller") for path in _stubs(ROOT / d, ROOT))
    assert generated, "the generator produced nothing"
    assert committed == generated, "a .proto was added or removed without regenerating: run scripts/gen-protos"
    stale = [str(path) for path in generated if (tmp_path / path).read_bytes() != (ROOT / path).read_bytes()]
    assert not stale, f"stale stubs, run scripts/gen-protos: {stale}"


def _stubs(directory: Path, root: Path) -> list[Path]:
    """The generated sources under ``directory`` (bytecode caches that importing them leaves behind are not)."""
    return sorted(p.relative_to(root) for p in directory.rglob("*_pb2*.py*") if p.suffix in (".py", ".pyi"))
