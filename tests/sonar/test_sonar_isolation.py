"""SONAR stays optional: importing the toolkit never loads fairseq2/sonar, and a missing extra is one clear error.

Run in the sonar venv, where fairseq2 and sonar ARE installed, so "not imported" below is a real check.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("fairseq2", "fairseq2n", "sonar", "torchaudio", "sentencepiece")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_sonar_stack_is_installed_here():
    """Guards the checks below: they prove nothing in a venv without fairseq2."""
    result = _run("import fairseq2, sonar; print(fairseq2.__version__, sonar.__version__)")
    assert result.returncode == 0, result.stderr


def test_importing_the_toolkit_does_not_import_sonar():
    modules = ["encoders", "encoders.sonar_codec", "encoders.sonar_langs"]
    modules += ["lcm"] if (REPO / "lcm" / "__init__.py").exists() else []
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"imported at import time: {result.stdout}"


def test_missing_extra_is_one_input_error_naming_the_fix():
    # `sys.modules[name] = None` makes `import name` raise ImportError, as in a venv without the extra.
    code = ("import sys\nsys.modules['fairseq2'] = None\nsys.modules['sonar'] = None\n"
            "from encoders.errors import InputError\nfrom encoders.sonar_codec import load_sonar_codec\n"
            "try:\n    load_sonar_codec()\nexcept InputError as err:\n    print('InputError:', err)\n")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    message = result.stdout
    assert message.startswith("InputError: the SONAR codec cannot start"), message
    assert 'pip install "lcm-toolkit[sonar]"' in message and "torch==2.9.1" in message, message
