"""Packaging: standard library only at import, py.typed, and an offline
`pip install --no-build-isolation` of clients/python."""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import HERE

PACKAGE = os.path.dirname(HERE)


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kw)


def test_import_needs_only_the_standard_library():
    code = ("import sys; sys.path.insert(0, %r); import ppprof; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg2', 'supabase')))"
            % os.path.join(PACKAGE, "src"))
    out = run(sys.executable, "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_public_names():
    import ppprof
    assert ppprof.__all__ == ["PerformanceProfiler", "profile_operation", "TimingRecord", "PerformanceSnapshot"]
    assert os.path.isfile(os.path.join(PACKAGE, "src", "ppprof", "py.typed"))


@pytest.mark.skipif(run(sys.executable, "-m", "pip", "--version").returncode != 0,
                    reason="pip is not installed for %s" % sys.executable)
def test_pip_install_offline():
    tmp = tempfile.mkdtemp(prefix="ppprof-pip.")
    try:
        src = os.path.join(tmp, "src")
        shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        target = os.path.join(tmp, "target")
        env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", HOME=tmp)
        out = run(sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                  "--no-cache-dir", "--target", target, src, env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert os.path.isfile(os.path.join(target, "ppprof", "py.typed"))
        code = "import ppprof; print(ppprof.__version__, ppprof.__file__)"
        out = run(sys.executable, "-c", code, env=dict(env, PYTHONPATH=target), cwd=tmp)
        assert out.returncode == 0, out.stderr
        version, path = out.stdout.split()
        assert version == "1.3.0"
        assert path.startswith(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
