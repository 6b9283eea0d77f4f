"""lcm-toolkit: Large Concept Models - sentence-level concept modelling with MSE, diffusion and quantized heads.

    import lcm
    m = lcm.load("base_lcm")                     # a shipped model's name, or a folder written by `lcm train`
    concepts = m.encode("It was a dark night. The wind howled.", lang="en")
    print(m.decode(m.generate(concepts, n=2), lang="fr"))

`import lcm` stays light: torch and the models load on the first lcm.load (lcm.api).
"""

__version__ = "0.1.0"
__all__ = ["LCM", "InputError", "Story", "load"]


def load(model=None, *, head: str = "mse", codec=None, codec_options=None):
    """A model by shipped name or folder, with its codec; see lcm.api.load."""
    from lcm.api import load as load_model_and_codec

    return load_model_and_codec(model, head=head, codec=codec, codec_options=codec_options)


def __getattr__(name: str):
    if name in ("LCM", "Story"):
        from lcm import api

        return getattr(api, name)
    if name == "InputError":
        from encoders.errors import InputError

        return InputError
    raise AttributeError(f"module 'lcm' has no attribute {name!r}")
