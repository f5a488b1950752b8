"""The distribution as pip builds it from a checkout: its name, its licence, and a build
without setuptools deprecation warnings."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_is_django_sqs_worker_with_its_license_and_builds_without_deprecation_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "deprecat" not in output.lower(), output
    (wheel,) = tmp_path.glob("*.whl")
    # "django-sqs" on PyPI is another project: the install command must not fetch it.
    assert wheel.name.startswith("django_sqs_worker-")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
        assert "License-Expression: BSD-3-Clause" in text
        assert any(n.endswith("licenses/LICENSE") for n in archive.namelist())
        assert "django_sqs/version.py" in archive.namelist()
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text()
