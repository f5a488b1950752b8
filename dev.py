"""Developer entry point: ``python3 dev.py demo`` and ``python3 dev.py test``.

Both set up what they need first: a virtual environment in ``.venv`` of this checkout
with the project installed (editable) and its test extra. Nothing else is required
but Python 3.10+ and pip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".django-sqs-installed"


def ensure_venv() -> None:
    """Create .venv and install the project, again whenever pyproject.toml changes."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    # The distribution was called django-sqs before (a name PyPI gives to another project):
    # an old .venv would keep both installed over the same package.
    subprocess.run([str(PYTHON), "-m", "pip", "uninstall", "--quiet", "--yes", "django-sqs"], check=False, capture_output=True)
    print("installing django-sqs-worker with its test extra", flush=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)


def run(args: list[str]) -> int:
    return subprocess.call([str(PYTHON), *args], cwd=ROOT)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "test":
        ensure_venv()
        return run(["-m", "pytest", *rest])
    if command == "demo":
        ensure_venv()
        return run([str(ROOT / "example_project" / "demo.py"), *rest])
    print(__doc__.strip())
    print("\nusage: python3 dev.py demo | test [pytest arguments]")
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main(sys.argv[1:]))
