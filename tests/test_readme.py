"""README.org as a newcomer meets it: the tutorial, run verbatim on a fresh
``django-admin startproject`` against the local server, and the examples, run as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.org").read_text()


def section(title: str) -> str:
    start = README.index(f"\n* {title}\n")
    end = README.index("\n* ", start + 1)
    return README[start:end]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"#\+begin_src {lang}\n(.*?)#\+end_src", text, re.S)


def block_starting(text: str, lang: str, first_line: str) -> str:
    (found,) = [b for b in blocks(text, lang) if b.startswith(first_line)]
    return found


def run(args, cwd, env, timeout=120):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def test_the_tutorial_works_verbatim_on_a_fresh_project(server, tmp_path):
    tutorial = section("Five-minute tutorial")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env["PATH"]  # django-admin and python of this venv
    # The tutorial's server listens on 9324; the test's has a port of its own.
    (exports,) = [b for b in blocks(tutorial, "sh") if b.startswith("export SQS_ENDPOINT_URL=")]
    exports = exports.replace("http://127.0.0.1:9324", server.url)
    shell = lambda script, cwd: run(["bash", "-euc", f"{exports}\n{script}"], cwd, env)  # noqa: E731

    setup = block_starting(tutorial, "sh", "pip install")
    shell("\n".join(line for line in setup.splitlines() if not line.startswith("pip install")), tmp_path)
    project = tmp_path / "mysite"
    settings_file = project / "mysite" / "settings.py"
    settings_file.write_text(settings_file.read_text() + "\n" + block_starting(tutorial, "python", "import os\n"))
    for block in blocks(tutorial, "python"):
        first = block.splitlines()[0]
        if first.startswith("# accounts/"):
            (project / first[2:]).write_text(block)
    shell(block_starting(tutorial, "sh", "python manage.py shell -c"), project)
    output = shell("python manage.py runreceiver --burst", project)
    assert "Hello Ada!" in output and "To: ada@example.com" in output  # the console backend
    assert "handled=1" in output

    # The status page: wired as Install says, for an anonymous visitor, then with LOGIN_URL.
    urls = project / "mysite" / "urls.py"
    text = urls.read_text().replace("from django.urls import path", "from django.urls import include, path")
    urls.write_text(text.replace("urlpatterns = [", 'urlpatterns = [\n    path("sqs/", include("django_sqs.urls")),'))
    shell("python manage.py migrate -v0", project)
    probe = (
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='localhost')\n"
        "r = c.get('/sqs/')\n"
        "print('STATUS', r.status_code, r.get('Content-Type'), r.get('Location'))\n"
        "print('LOGIN', c.get(r['Location']).status_code if r.status_code == 302 else '-')\n"
    )
    (project / "probe.py").write_text(probe)
    anonymous = shell("python manage.py shell -v0 < probe.py", project)
    assert "STATUS 403 text/plain; charset=utf-8 None" in anonymous  # no /accounts/login/ here
    assert 'LOGIN_URL = "admin:login"' in tutorial
    settings_file.write_text(settings_file.read_text() + '\nLOGIN_URL = "admin:login"\n')
    with_login = shell("python manage.py shell -v0 < probe.py", project)
    assert "STATUS 302" in with_login and "/admin/login/?next=/sqs/" in with_login
    assert "LOGIN 200" in with_login


@pytest.mark.parametrize("title, first_line", [
    ("Receivers", "# myapp/receivers.py"),
    ("Sending", "from django_sqs import send, send_many, send_on_commit"),
    ("Message classes", "from django_sqs import receiver\nfrom django_sqs.exceptions import BadMessage"),
    ("Message classes", "from django_sqs import receiver\nfrom django_sqs.message import ModelInstanceMessage"),
    ("Dead-letter queues, FIFO queues and least privilege", "from django_sqs import receiver, send_to_dead_letter_queue"),
])
def test_readme_examples_run_as_written(settings, title, first_line):
    settings.SQS_EAGER = True
    code = block_starting(section(title), "python", first_line)
    if title == "Sending":  # the queues it sends to, as a project would have registered them
        from django_sqs import register
        from django_sqs.message import JSONMessage

        register("mail")
        register("reports", message_class=JSONMessage)
        register("thumbnails", suffixes=("big",))
        register("orders.fifo")
    exec(compile(code, f"README.org: {title}", "exec"), {"__name__": "readme_example"})
