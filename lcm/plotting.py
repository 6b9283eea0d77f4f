"""matplotlib on demand (Agg backend, imported inside the call) and atomic PNG writes, for every plot we write."""

from pathlib import Path

from encoders.shared.atomic import atomic_path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: "str | Path", dpi: int = 120) -> Path:
    """Write the figure to a temp file in the same folder, then rename it over `path`."""
    plt = pyplot()
    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    return path
