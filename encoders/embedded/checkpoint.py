"""Saving and loading the decoder's export: fp16 safetensors + tokenizer.json + config.json, each written atomically.
(Resumable training checkpoints are encoders.shared.training's checkpoint folders.)"""

import dataclasses
import json
from pathlib import Path

import torch

from encoders.embedded.config import DecoderConfig
from encoders.embedded.model import ConceptDecoder
from encoders.errors import InputError
from encoders.shared.atomic import atomic_path, atomic_write_text

WEIGHTS_FILE, CONFIG_FILE, TOKENIZER_FILE = "model.safetensors", "config.json", "tokenizer.json"
REBUILD = "rebuild it with `python -m encoders.embedded.train recipes/codec_embedded.yaml`"


def export_weights(out_dir: "str | Path", model: ConceptDecoder, tok, langs: list[str], info: dict) -> None:
    """Write model.safetensors (fp16; tied lm_head left out), tokenizer.json and config.json into out_dir."""
    from safetensors.torch import save_file

    from encoders.embedded.tokenizer import save_tokenizer

    out_dir = Path(out_dir)
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous()
               for k, v in model.state_dict().items() if k != "lm_head.weight"}
    with atomic_path(out_dir / WEIGHTS_FILE) as tmp:
        save_file(tensors, tmp)
    save_tokenizer(tok, out_dir / TOKENIZER_FILE)
    meta = {"model": dataclasses.asdict(model.cfg), "langs": langs, "info": info}
    atomic_write_text(out_dir / CONFIG_FILE, json.dumps(meta, indent=1))


def load_exported(weights_dir: "str | Path", device="cpu", dtype=torch.float32):
    """(model in eval mode, tokenizer, config dict) from an export directory; InputError when a file is missing."""
    from safetensors.torch import load_file

    from encoders.embedded.tokenizer import load_tokenizer

    weights_dir = Path(weights_dir)
    for name in (WEIGHTS_FILE, CONFIG_FILE, TOKENIZER_FILE):
        if not (weights_dir / name).is_file():
            raise InputError(f"embedded codec file {str(weights_dir / name)!r} is missing; {REBUILD}")
    try:
        meta = json.loads((weights_dir / CONFIG_FILE).read_text())
        cfg = DecoderConfig(**meta["model"])
        state = load_file(str(weights_dir / WEIGHTS_FILE), device=str(device))
    except Exception as err:
        raise InputError(f"embedded codec weights in {str(weights_dir)!r} are unreadable ({err}); {REBUILD}") from None
    # (Building under torch.device("meta") would skip nn's default init, but it imports torch._dynamo: slower.)
    model = ConceptDecoder(cfg, init_weights=False)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise InputError(f"weights in {str(weights_dir)!r} do not match their config.json; {REBUILD}")
    return model.to(device, dtype).eval(), load_tokenizer(weights_dir / TOKENIZER_FILE), meta
