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


def test_the_local_extra_is_the_sqs_server_only_and_the_demo_extra_what_the_demo_needs():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # moto's "server" extra pulls the parsers of every AWS service (cfn-lint, docker,
    # aws-xray-sdk, ...): minutes of install. Its SQS server needs moto and Flask only.
    for name in ("local", "demo"):
        assert not any(req.startswith("moto[") and "server" in req for req in extras[name]), extras[name]
        assert {"flask", "flask-cors"} <= set(extras[name]) and any(r.startswith("moto>=") for r in extras[name])
    # The demo enqueues a Django task: the backport where Django 6 cannot run.
    assert any(r.startswith("django-tasks") and "python_version < '3.12'" in r for r in extras["demo"])
    # Nothing for the tests or the docs in the demo's install.
    assert not any(r.split(">")[0].split("[")[0] in {"pytest", "ruff", "sphinx", "psycopg"} for r in extras["demo"])
    assert any(r.startswith("sphinx") for r in extras["docs"])
