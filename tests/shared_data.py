"""Where the read-only public benchmark data lives (``../shared/data`` beside the repo).

CI lays a copy of ``shared/`` beside its fresh clone, so look there first; fall back to
the workplace path. Tests that need it skip when neither exists.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = (REPO.parent / "shared" / "data", Path("/work/shared/data"))
SHARED_DATA = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
