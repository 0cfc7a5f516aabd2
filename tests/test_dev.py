"""``dev.py``: one environment per Python version, refused with one clear line otherwise.

No environment is created here: the venvs are stand-ins (a ``pyvenv.cfg`` and
an install stamp), so each test takes milliseconds.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dev():
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_venv(dev, path: Path, version: str) -> Path:
    """A folder that looks like a current, installed venv made by Python ``version``."""
    py = dev._bin(path, "python")
    py.parent.mkdir(parents=True)
    py.write_text("")
    (path / "pyvenv.cfg").write_text(
        f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {version}\n"
    )
    (path / ".installed-stamp").write_text(dev._stamp())
    return path


def test_a_venv_of_another_python_version_is_refused(dev, tmp_path, capsys, monkeypatch):
    venv = _fake_venv(dev, tmp_path / ".venv", "3.99.1")
    monkeypatch.setattr(dev.subprocess, "run", _no_subprocess)
    assert dev.main(["--venv", str(venv), "setup"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    mine = "{}.{}".format(*sys.version_info[:2])
    assert f"made with Python 3.99, but this interpreter is {mine}" in err
    assert f"--venv .venv{sys.version_info[0]}{sys.version_info[1]}" in err


def test_a_venv_of_this_python_version_is_reused(dev, tmp_path, monkeypatch):
    """Same version and a current stamp: nothing is installed, the command goes on."""
    version = "{}.{}.{}".format(*sys.version_info[:3])
    venv = _fake_venv(dev, tmp_path / ".venv", version)
    monkeypatch.setattr(dev.subprocess, "run", _no_subprocess)
    assert dev.main(["--venv", str(venv), "setup"]) == 0


def test_version_from_pyvenv_cfg(dev, tmp_path):
    cfg = tmp_path / "pyvenv.cfg"
    assert dev.venv_version(tmp_path) is None
    cfg.write_text("home = /x\nversion_info = 3.12.1.final.0\n")
    assert dev.venv_version(tmp_path) == (3, 12)
    cfg.write_text("home = /x\nversion = 3.11.7\n")
    assert dev.venv_version(tmp_path) == (3, 11)


def test_an_old_or_missing_interpreter_is_one_line(dev, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dev, "python_version", lambda python: (3, 10))
    assert dev.main(["--venv", str(tmp_path / "v"), "--python", "python3.10", "setup"]) == 2
    assert "is Python 3.10; this project needs 3.11 or newer" in capsys.readouterr().err
    monkeypatch.undo()
    missing = str(tmp_path / "no-such-python")
    assert dev.main(["--venv", str(tmp_path / "v"), "--python", missing, "setup"]) == 2
    assert f"--python {missing}: cannot run this interpreter" in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


def test_python_version_of_another_interpreter(dev):
    """The version of ``--python`` is asked from that interpreter itself."""
    assert dev.python_version(str(Path(sys.executable).resolve())) == sys.version_info[:2]


def _no_subprocess(*args, **kwargs):
    raise AssertionError(f"dev.py started a process: {args}")


def test_tests_run_on_every_core_unless_the_caller_chooses(dev, monkeypatch):
    monkeypatch.delenv("SIM_TEST_WORKERS", raising=False)
    assert dev.parallel([]) == ["-n", "auto", "--dist", "loadfile"]
    assert dev.parallel(["-m", "not slow"]) == ["-n", "auto", "--dist", "loadfile"]
    for chosen in (["-n", "4"], ["-n4"], ["--numprocesses=2"], ["-p", "no:xdist"]):
        assert dev.parallel(chosen) == [], chosen
    monkeypatch.setenv("SIM_TEST_WORKERS", "0")
    assert dev.parallel([]) == []
    monkeypatch.setenv("SIM_TEST_WORKERS", "3")
    assert dev.parallel([]) == ["-n", "3", "--dist", "loadfile"]
