"""Developer entry point: ``python3 dev.py demo`` and ``python3 dev.py test``.

Both set up what they need first: a virtual environment in ``.venv`` of this checkout
with the project installed (editable), with the ``demo`` extra for the demo (the local SQS
server) or the ``test`` extra for the tests. Nothing else is required but Python 3.10+
and pip.
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
#: What each command installs; the test extra holds everything the demo needs.
EXTRAS = {"demo": ("demo",), "test": ("test",)}


def installed() -> tuple[str, set[str]]:
    """The pyproject.toml hash and the extras of the last install ("" when none)."""
    if not (STAMP.exists() and PYTHON.exists()):
        return "", set()
    digest, _, extras = STAMP.read_text().partition(" ")
    return digest, set(extras.split(",")) - {""}


def ensure_venv(command: str) -> None:
    """Create .venv and install the project with the extra ``command`` needs, again
    whenever pyproject.toml changes."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    digest, extras = installed()
    needed = set(EXTRAS[command])
    if digest == wanted and (needed <= extras or "test" in extras):
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    # pip's own progress is shown: the first install takes a while, and a silent one looks hung.
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on"]
    subprocess.run([*pip, "--quiet", "--upgrade", "pip"], check=True)
    # The distribution was called django-sqs before (a name PyPI gives to another project):
    # an old .venv would keep both installed over the same package.
    subprocess.run([str(PYTHON), "-m", "pip", "uninstall", "--quiet", "--yes", "django-sqs"], check=False, capture_output=True)
    if digest == wanted:
        needed |= extras
    print(f"installing django-sqs-worker (editable) with the {', '.join(sorted(needed))} extra", flush=True)
    # setuptools prints a box of advice on every editable install, whatever its mode
    # (lenient, strict, compat), through the warnings module of the build subprocess:
    # nothing to act on here, and it reads like a failure to a newcomer.
    subprocess.run(
        [*pip, "-e", f"{ROOT}[{','.join(sorted(needed))}]"],
        check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    STAMP.write_text(f"{wanted} {','.join(sorted(needed))}")


def run(args: list[str]) -> int:
    return subprocess.call([str(PYTHON), *args], cwd=ROOT)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "test":
        ensure_venv("test")
        return run(["-m", "pytest", *rest])
    if command == "demo":
        ensure_venv("demo")
        return run([str(ROOT / "example_project" / "demo.py"), *rest])
    print(__doc__.strip())
    print("\nusage: python3 dev.py demo | test [pytest arguments]")
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main(sys.argv[1:]))
