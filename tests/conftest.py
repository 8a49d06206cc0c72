import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PACKGATE_PROFILES", str(ROOT / "firmware-profiles"))
