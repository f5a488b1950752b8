"""The reference site in docs/ as a reader meets it: its Python examples run as written, and
what it lists is what the code has (settings, check ids, command options, the tutorial of
README.org, the benchmark figures of bench/RESULTS.md). Also: no install line anywhere in
the repository names a distribution other than django-sqs-worker."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from django_sqs import conf

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)
#: Pages whose code is run elsewhere: the tutorial is README.org's, run by test_readme.py
#: (and compared with it below).
RUN_ELSEWHERE = {"intro/tutorial.rst"}


def code_blocks(text: str, language: str) -> list[tuple[int, str, str]]:
    """``(line, code, comment before it)`` for each ``.. code-block:: language`` (or
    ``.. code::``) of an RST page, the code dedented."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if not re.fullmatch(rf"\s*\.\. code(-block)?:: {language}\s*", line):
            continue
        indent = len(line) - len(line.lstrip()) + 3
        body, j = [], i + 1
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) >= indent):
            body.append(lines[j][indent:] if lines[j].strip() else "")
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        found.append((i + 1, "\n".join(body).strip("\n") + "\n", lines[k] if k >= 0 else ""))
    return found


def python_examples():
    for page in PAGES:
        name = page.relative_to(DOCS).as_posix()
        if name in RUN_ELSEWHERE:
            continue
        for line, code, before in code_blocks(page.read_text(), "python"):
            if before.startswith(".. not tested:"):
                assert len(before) > len(".. not tested: ") + 10, f"{name}:{line}: say why it is not tested"
                continue
            yield pytest.param(code, id=f"{name}:{line}")


@pytest.fixture
def restore_environment():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("code", list(python_examples()))
def test_python_examples_run_as_written(code, settings, restore_environment):
    # Eager: sends run the receivers in this process, no SQS needed; the registry is put
    # back after each example (conftest's _clean_state).
    settings.SQS_EAGER = True
    exec(compile(code, "docs example", "exec"), {"__name__": "docs_example"})


def test_the_tutorial_page_is_the_readmes_tutorial():
    readme = (ROOT / "README.org").read_text()
    tutorial = readme[readme.index("\n* Five-minute tutorial\n"): readme.index("\n* ", readme.index("\n* Five-minute tutorial\n") + 1)]
    in_readme = [block for _, block in re.findall(r"#\+begin_src (\w+)\n(.*?)#\+end_src", tutorial, re.S)]
    page = (DOCS / "intro" / "tutorial.rst").read_text()
    in_docs = [code for language in ("bash", "python") for _, code, _ in code_blocks(page, language)]
    assert sorted(in_docs) == sorted(in_readme)


def documented() -> str:
    return "\n".join(page.read_text() for page in PAGES)


def test_every_setting_is_documented():
    names = [n for n in vars(conf.Settings) if n.startswith(("SQS_", "AWS_"))]
    assert "SQS_QUEUE_PREFIX" in names
    text = documented()
    missing = [n for n in names if f"``{n}``" not in text]
    assert not missing, f"settings not in docs/ (ref/settings.rst): {missing}"


def test_every_check_id_is_documented():
    ids = set()
    for path in (ROOT / "django_sqs").rglob("*.py"):
        ids |= set(re.findall(r"django_sqs\.[EW]\d{3}", path.read_text()))
    assert "django_sqs.E001" in ids
    text = documented()
    assert not sorted(i for i in ids if i not in text)


def test_every_option_of_every_command_is_documented():
    from django.core.management import get_commands, load_command_class
    from django.core.management.base import BaseCommand

    commands = sorted(name for name, app in get_commands().items() if app == "django_sqs")
    assert "runreceiver" in commands and "sqs_status" in commands
    reference = (DOCS / "ref" / "commands.rst").read_text()
    text = documented()
    # Django's own options are documented once, for every command; a Django version that
    # adds one does not make ours undocumented.
    django_own = {o for a in BaseCommand().create_parser("manage.py", "x")._actions for o in a.option_strings}
    assert {"-v", "--settings", "--traceback", "--skip-checks"} <= django_own
    missing = []
    for name in commands:
        if f"\n{name}\n" not in reference:
            missing.append(name)
        parser = load_command_class("django_sqs", name).create_parser("manage.py", name)
        for action in parser._actions:
            for option in action.option_strings or [action.metavar or action.dest]:
                if option in django_own and option not in ("-v", "--settings", "--traceback", "--skip-checks"):
                    continue
                if f"``{option}" not in text:
                    missing.append(f"{name} {option}")
    assert not missing, missing
    # The verbosity levels, 3 included.
    assert "``-v {0,1,2,3}``" in reference and "3 is DEBUG too" in reference


def table_rows(markdown: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in markdown.splitlines()
        if line.startswith("| ") and not line.startswith("|---")
    ]


def test_the_benchmark_page_shows_the_figures_of_bench_results():
    page = re.sub(r"\s+", " ", (DOCS / "benchmarks.rst").read_text())
    rows = table_rows((ROOT / "bench" / "RESULTS.md").read_text())
    assert len(rows) > 30
    for row in rows:
        for cell in row:
            if re.search(r"\d", cell):
                assert cell.replace("`", "") in page.replace("`", ""), cell
    assert "09:06" in page and "08:30" in page  # each table with its run


# An install line: pip install, then a requirement naming django-sqs without -worker.
WRONG_INSTALL = re.compile(r"pip install[^\n]*?['\"\s]django-sqs(?![-\w])", re.M)


def test_no_install_line_names_another_distribution_than_django_sqs_worker():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in files:
        path = ROOT / name
        if name == "tests/test_docs.py" or path.suffix in (".sqlite3", ".whl", ".png") or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {m.group(0)}" for m in WRONG_INSTALL.finditer(text)]
        offenders += [f"{name}: {line.strip()}" for line in text.splitlines() if "django-sqs[" in line]
    assert not offenders, offenders


def test_the_install_line_check_catches_the_wrong_names():
    for wrong in ("pip install 'django-sqs[metrics]'", "pip install django-sqs", "pip install django-sqs==0.2"):
        assert WRONG_INSTALL.search(wrong), wrong
    for right in ("pip install 'django-sqs-worker[metrics]'", "pip install django-sqs-worker"):
        assert not WRONG_INSTALL.search(right), right
