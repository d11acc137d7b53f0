"""pytest setup: the package and examples importable from the source tree, and the shared gateway fixtures."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "testing"))
sys.path.insert(0, str(HERE))

from pgw_fixture import anyio_backend, gateway, unique_user  # noqa: E402,F401  (fixtures)
