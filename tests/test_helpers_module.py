"""``helpers-module = "pkg.mod"``: fixes import the helpers from the project's module, and
``tether fix`` creates (or completes) that module so the fixed code imports and runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tether import helpers

PROGRAM = textwrap.dedent(
    """\
    import asyncio


    async def tick(n):
        await asyncio.sleep(0.01)
        return n


    async def main():
        asyncio.create_task(tick(0))
        print(await asyncio.gather(tick(1), tick(2)))


    asyncio.run(main())
    """
)


def _project(tmp_path, helpers_module="myproject.aio", program=PROGRAM):
    (tmp_path / "pyproject.toml").write_text(f'[tool.tether]\nhelpers-module = "{helpers_module}"\n')
    (tmp_path / "app.py").write_text(program)
    return tmp_path / "app.py"


def test_fix_creates_the_module_with_every_helper_the_fixes_import(tmp_path, cli):
    app = _project(tmp_path)
    result = cli(["fix", "--no-cache", app], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    fixed = app.read_text()
    assert "from myproject.aio import _keep_task, _gather_cancel_on_error\n" in fixed
    assert "# tether helper" not in fixed
    module = tmp_path / "myproject" / "aio.py"
    assert (tmp_path / "myproject" / "__init__.py").exists()
    text = module.read_text()
    assert text.count("# tether helper keep_task:") == 1 and text.count("# tether helper gather_cancel_on_error:") == 1
    compile(text, str(module), "exec")
    run = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "[1, 2]\n", run.stderr
    again = cli(["fix", "--no-cache", app], cwd=tmp_path)
    assert app.read_text() == fixed and module.read_text() == text
    assert "Wrote helpers module" not in again.stderr


def test_diff_shows_the_module_fix_would_create_and_writes_nothing(tmp_path, cli):
    app = _project(tmp_path)
    result = cli(["diff", "--no-cache", "app.py"], cwd=tmp_path)
    assert result.exit_code == 1
    assert not (tmp_path / "myproject").exists()
    assert "--- /dev/null\n+++ b/myproject/aio.py\n" in result.output
    # the whole dry run, applied with patch, gives a program that imports and runs
    (tmp_path / "fix.patch").write_bytes(result.stdout_bytes)
    subprocess.run(["patch", "-s", "-p1", "-i", "fix.patch"], cwd=tmp_path, check=True)
    run = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "[1, 2]\n", run.stderr
    assert cli(["diff", "--no-cache", "app.py"], cwd=tmp_path).exit_code == 0  # nothing left to show


def test_diff_shows_only_what_an_existing_module_lacks(tmp_path, cli):
    app = _project(tmp_path)
    (tmp_path / "myproject").mkdir()
    (tmp_path / "myproject" / "aio.py").write_text("import asyncio\n\n\ndef _keep_task(task):\n    return task\n")
    result = cli(["diff", "--no-cache", app], cwd=tmp_path)
    assert "--- a/myproject/aio.py\n+++ b/myproject/aio.py\n" in result.output
    module_diff = result.output.split("+++ b/myproject/aio.py\n", 1)[1]
    assert "+async def _gather_cancel_on_error(" in module_diff and "+def _keep_task" not in module_diff


def test_an_existing_module_keeps_its_bytes_and_gets_only_the_missing_helper(tmp_path, cli):
    app = _project(tmp_path)
    package = tmp_path / "myproject"
    package.mkdir()
    original = '"""Our async utilities."""\r\nimport asyncio\r\n\r\n\r\ndef _keep_task(task):\r\n    return task\r\n'
    (package / "aio.py").write_bytes(original.encode())
    assert cli(["fix", "--no-cache", app], cwd=tmp_path).exit_code == 0
    data = (package / "aio.py").read_bytes()
    assert data.startswith(original.encode())
    added = data[len(original) :].decode()
    assert "\n" not in added.replace("\r\n", "")  # the file's own line endings
    assert "async def _gather_cancel_on_error(" in added and "_keep_task" not in added
    assert "import asyncio" not in added
    assert not (package / "__init__.py").exists()  # an existing directory is left as it is


def test_src_layout(tmp_path, cli):
    app = _project(tmp_path)
    (tmp_path / "src" / "myproject").mkdir(parents=True)
    assert cli(["fix", "--no-cache", app], cwd=tmp_path).exit_code == 0
    assert (tmp_path / "src" / "myproject" / "aio.py").exists()
    assert not (tmp_path / "myproject").exists()


def test_module_source_appends_import_asyncio_when_missing():
    text = helpers.helpers_module_source({"cancel_and_wait"}, "VALUE = 1\n")
    assert text.startswith("VALUE = 1\n\n\nimport asyncio\n\n\n# tether helper cancel_and_wait:")
    assert helpers.helpers_module_source({"cancel_and_wait"}, text) is None


def test_helpers_module_holds_helpers_that_others_call(tmp_path):
    """_wait_cancel_pending calls _cancel_pending: the generated module must define both."""
    from tether.helpers import helpers_module_source

    text = helpers_module_source({"wait_cancel_pending"})
    namespace: dict = {}
    exec(compile(text, "helpers.py", "exec"), namespace)
    assert callable(namespace["_wait_cancel_pending"]) and callable(namespace["_cancel_pending"])


def test_every_template_is_indented_in_four_space_levels_without_multiline_strings():
    # what ``reindent`` relies on to give a helper the module's own indentation
    for template in helpers.TEMPLATES.values():
        assert '"""' not in template.source and "'''" not in template.source, template.kind
        for line in template.source.splitlines():
            assert (len(line) - len(line.lstrip(" "))) % 4 == 0, (template.kind, line)
            assert "\t" not in line, template.kind


def test_inline_helpers_follow_the_module_indentation(tmp_path, cli):
    program = PROGRAM.replace("    ", "  ")  # a two-space module
    app = tmp_path / "app.py"
    app.write_text(program)
    assert cli(["fix", "--no-cache", app], cwd=tmp_path).exit_code == 0
    fixed = app.read_text()
    assert "async def _gather_cancel_on_error(*aws):\n  tasks = {}\n  try:\n    for aw in aws:\n" in fixed
    run = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "[1, 2]\n", run.stderr
    assert cli(["fix", "--no-cache", app], cwd=tmp_path).exit_code == 0 and app.read_text() == fixed
