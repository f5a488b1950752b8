"""README.org as a newcomer meets it: a one-page front door (its length is bounded; the
reference is the Sphinx site in docs/), and the tutorial, run verbatim on a fresh
``django-admin startproject`` against the local server."""

import os
import re
import subprocess
import sys
from pathlib import Path

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
    sent = shell(block_starting(tutorial, "sh", "python manage.py shell -c"), project)
    assert re.search(r"(?m)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", sent), sent  # the message id
    output = shell("python manage.py runreceiver --burst", project)
    assert "Hello Ada!" in output and "To: ada@example.com" in output  # the console backend
    assert "handled=1" in output
    # The receiver keeps what fails: a dead-letter queue, so delete_on_error is off.
    check = "from accounts.receivers import send_welcome_mail as r; q = r.registered_queue; print('KEEPS', q.delete_on_error, q.dead_letter_queue)"
    assert "KEEPS False welcome_mail_dlq" in shell(f"python manage.py shell -c {check!r}", project)
    # Both queues exist after the first send, and a full name works where a name does.
    status = shell("python manage.py sqs_status dev__welcome_mail", project)
    assert "dev__welcome_mail " in status and "dev__welcome_mail_dlq" in status

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


def test_the_readme_is_a_front_door_of_about_300_lines():
    lines = README.splitlines()
    assert len(lines) <= 320, f"README.org has {len(lines)} lines: move the detail to docs/"
    # The two commands, at the top.
    top = README[: README.index("\n* ")]
    assert "python3 dev.py demo" in top and "python3 dev.py test" in top


def test_the_readme_links_only_to_files_that_exist_or_are_other_branches_docs():
    # Pages written beside this one in other branches; they appear in docs/ when merged.
    elsewhere = {f"docs/topics/{name}.rst" for name in ("delivery", "task-retries", "many-queues", "dashboard", "periodic")}
    links = re.findall(r"\[\[file:([^\]]+)\]", README)
    assert links
    missing = [link for link in links if not (ROOT / link).exists() and link not in elsewhere]
    assert not missing, missing


def test_the_readmes_figures_are_those_of_bench_results():
    results = (ROOT / "bench" / "RESULTS.md").read_text()
    figures = section("Figures")
    quoted = re.findall(r"\d[\d.,]* (?:ms |s )?\(\d[\d.,]*[–-]\d[\d.,]*\)", figures)
    assert len(quoted) >= 8
    for figure in quoted:
        value, spread = re.sub(r" (ms|s) ", " ", figure).split(" ", 1)
        assert f"{value} {spread}" in results or f"{value}× {spread}" in results, figure
    for single in ("0.202", "0.201", "0.100", "53.1", "33.7", "1.357", "1.110", "18.71"):
        assert single in figures and single in results
    assert "09:06" in figures and "08:30" in figures  # each figure with its run
