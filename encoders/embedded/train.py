"""Train the embedded codec's decoder on frozen USE vectors.

    python -m encoders.embedded.train recipes/codec_embedded.yaml [section.key=value ...]

Steps: tokenizer (trained once, or taken from init_from) -> USE vectors of every sentence (cached .npy) ->
AdamW with warmup + cosine over the wall-clock budget -> atomic checkpoints + fp16 export every few minutes.
Run it again to resume from work_dir/checkpoint.pt (the step counter and the budget continue).
"""

import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import torch

from encoders.embedded.config import CodecRecipe, DecoderConfig, load_recipe
from encoders.errors import InputError


def lr_at(step: int, progress: float, cfg) -> float:
    """Linear warmup over warmup_steps, then cosine from lr to lr*min_lr_ratio as progress goes 0 -> 1."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def prepare(recipe: CodecRecipe, device):
    """Tokenizer, train/valid example tables on `device`, language token ids and the decoder config."""
    from encoders.embedded.checkpoint import TOKENIZER_FILE
    from encoders.embedded.data import build_table, read_parallel
    from encoders.embedded.tokenizer import lang_token, load_tokenizer, train_tokenizer

    data, tc = recipe.data, recipe.train
    work = Path(tc.work_dir)
    train_units = read_parallel(data.parallel, data.langs, "train", data.max_units)
    valid_units = read_parallel(data.parallel, data.langs, "valid", max(1, tc.valid_examples // 2))
    if not train_units:
        raise InputError(f"no training units for languages {data.langs} in {data.parallel}; check data.langs")
    tok_path = work / TOKENIZER_FILE
    if tok_path.is_file():
        tok = load_tokenizer(tok_path)
    elif tc.init_from and (Path(tc.init_from) / TOKENIZER_FILE).is_file():
        tok = load_tokenizer(Path(tc.init_from) / TOKENIZER_FILE)
        tok.save(str(tok_path))
    else:
        texts = (t for u in train_units for t in u["texts"].values())
        tok = train_tokenizer(texts, data.langs, data.vocab_size, tok_path)
    missing = [lang for lang in data.langs if tok.token_to_id(lang_token(lang)) is None]
    if missing:
        raise InputError(f"tokenizer {tok_path} has no token for {missing}; delete it (and init_from) to retrain")
    model_cfg = dataclasses.replace(recipe.model, vocab_size=tok.get_vocab_size())
    print(f"units: {len(train_units)} train, {len(valid_units)} valid; vocab {tok.get_vocab_size()}", flush=True)
    t0 = time.time()
    train = build_table(train_units, data.langs, tok, model_cfg.max_len, work / "vectors_train.npy", data.encode_workers)
    valid = build_table(valid_units, data.langs, tok, model_cfg.max_len, work / "vectors_valid.npy", data.encode_workers)
    print(f"sentences: {len(train.lengths)} train ({len(train.vectors)} unique), {len(valid.lengths)} valid; "
          f"vectors + tokens ready in {time.time() - t0:.0f}s", flush=True)
    lang_ids = torch.tensor([tok.token_to_id(lang_token(lang)) for lang in data.langs])
    return tok, train.to(device), valid.to(device), lang_ids.to(device), model_cfg


def build_model(model_cfg: DecoderConfig, recipe: CodecRecipe, device):
    from encoders.embedded.checkpoint import load_exported
    from encoders.embedded.model import ConceptDecoder

    torch.manual_seed(recipe.train.seed)
    model = ConceptDecoder(model_cfg).to(device)
    if recipe.train.init_from:
        init, _, _ = load_exported(recipe.train.init_from, device=device)
        if init.cfg != model_cfg:
            raise InputError(f"init_from {recipe.train.init_from!r} has config {init.cfg}, the recipe asks for "
                             f"{model_cfg}; make the recipe's model section match or drop init_from")
        model.load_state_dict(init.state_dict())
    return model


def make_optimizer(model, tc):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.AdamW(groups, lr=tc.lr, betas=(0.9, 0.98), fused=fused)


@torch.no_grad()
def valid_loss(model, valid, lang_ids, batch_size: int, autocast) -> float:
    from encoders.embedded.data import make_batch

    model.eval()
    gen = torch.Generator(device=valid.lengths.device).manual_seed(1234)
    total, count = 0.0, 0
    idx = torch.arange(len(valid.lengths), device=valid.lengths.device)
    for i in range(0, len(idx), batch_size):
        concepts, lang_col, tokens, lengths = make_batch(valid, idx[i:i + batch_size], 0.3, 0.0, gen)
        with autocast():
            loss = model.loss(concepts, lang_ids[lang_col], tokens, lengths)
        n = int(lengths.sum())
        total, count = total + float(loss) * n, count + n
    model.train()
    return total / max(count, 1)


def train(recipe: CodecRecipe) -> dict:
    """Run (or resume) training until the budget is spent; returns the last log record."""
    import contextlib

    from encoders.embedded.checkpoint import export_weights, load_checkpoint, save_checkpoint
    from encoders.embedded.data import epoch_batches, make_batch

    tc = recipe.train
    device = torch.device("cuda" if tc.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if tc.device == "auto" else tc.device))
    work = Path(tc.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    tok, train_t, valid_t, lang_ids, model_cfg = prepare(recipe, device)
    ckpt_path = work / "checkpoint.pt"
    resuming = tc.resume and ckpt_path.is_file()
    if resuming:
        recipe_for_model = dataclasses.replace(recipe, train=dataclasses.replace(tc, init_from=""))
        model = build_model(model_cfg, recipe_for_model, device)
    else:
        model = build_model(model_cfg, recipe, device)
    optimizer = make_optimizer(model, tc)
    state = {"step": 0, "elapsed_s": 0.0, "epoch": 0, "batch_in_epoch": 0, "loss": None}
    if resuming:
        ckpt = load_checkpoint(ckpt_path, map_location=device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        state = ckpt["state"]
        print(f"resumed from {ckpt_path} at step {state['step']} ({state['elapsed_s'] / 60:.1f} min trained)", flush=True)
    print(f"decoder: {model.num_params() / 1e6:.1f}M parameters on {device}", flush=True)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device.type == "cuda" else contextlib.nullcontext
    gen = torch.Generator(device=device).manual_seed(tc.seed + 1000 * state["epoch"])
    budget_s = tc.max_minutes * 60
    log_path = work / "log.jsonl"
    model.train()

    def save(record):
        state["saved_step"] = state["step"]
        save_checkpoint(ckpt_path, model, optimizer, state)
        export_weights(tc.export_dir, model, tok, recipe.data.langs, {**record, "recipe": dataclasses.asdict(recipe)})

    run_start, last_save = time.time(), time.time()
    start_elapsed = state["elapsed_s"]
    batches = epoch_batches(train_t, tc.batch_size, gen)
    loss_sum, n_steps, n_tokens, window_start = torch.zeros((), device=device), 0, 0, time.time()
    record = {}
    while True:
        elapsed = start_elapsed + time.time() - run_start
        done = elapsed >= budget_s or bool(tc.max_steps and state["step"] >= tc.max_steps)
        if not done:
            if state["batch_in_epoch"] >= len(batches):  # next epoch, reproducibly shuffled
                state["epoch"] += 1
                state["batch_in_epoch"] = 0
                gen.manual_seed(tc.seed + 1000 * state["epoch"])
                batches = epoch_batches(train_t, tc.batch_size, gen)
            targets = batches[state["batch_in_epoch"]]
            state["batch_in_epoch"] += 1
            concepts, lang_col, tokens, lengths = make_batch(
                train_t, targets, recipe.data.auto_encode_prob, recipe.data.noise_max, gen)
            lr = lr_at(state["step"], elapsed / budget_s, tc)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast():
                loss = model.loss(concepts, lang_ids[lang_col], tokens, lengths)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optimizer.step()
            state["step"] += 1
            loss_sum += loss.detach()
            n_steps += 1
            n_tokens += tokens.shape[0] * tokens.shape[1]  # padded target tokens (what the GPU computes)
        if n_steps and (done or state["step"] % tc.log_every == 0):
            dt = max(time.time() - window_start, 1e-9)
            state["loss"] = round(float(loss_sum) / n_steps, 4)
            record = {"step": state["step"], "epoch": state["epoch"], "loss": state["loss"], "lr": lr,
                      "tokens_per_s": round(n_tokens / dt), "minutes": round(elapsed / 60, 2)}
            loss_sum.zero_()
            n_steps, n_tokens = 0, 0
            save_due = done or time.time() - last_save >= tc.checkpoint_minutes * 60
            if save_due or state["step"] % (tc.log_every * 10) == 0:
                record["valid_loss"] = round(valid_loss(model, valid_t, lang_ids, tc.batch_size, autocast), 4)
            print(json.dumps(record), flush=True)
            with open(log_path, "a") as f:
                f.write(json.dumps(record) + "\n")
            if save_due:
                state["elapsed_s"] = start_elapsed + time.time() - run_start
                save(record)
                last_save = time.time()
                print(f"saved checkpoint at step {state['step']}", flush=True)
            window_start = time.time()
        if done:
            if state.get("saved_step") != state["step"]:
                record = {**record, "valid_loss": round(valid_loss(model, valid_t, lang_ids, tc.batch_size, autocast), 4)}
                state["elapsed_s"] = start_elapsed + time.time() - run_start
                save(record)
            return record


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        recipe = load_recipe(argv[0], argv[1:])
        record = train(recipe)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"done: {json.dumps(record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
