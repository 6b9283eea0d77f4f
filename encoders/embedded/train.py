"""Train the embedded codec's decoder on frozen USE vectors.

    python -m encoders.embedded.train recipes/codec_embedded.yaml [section.key=value ...]

Steps: tokenizer (trained once, or taken from init_from) -> USE vectors of every sentence (cached .npy) ->
AdamW with warmup + cosine over the wall-clock budget -> atomic checkpoints + fp16 export every few minutes.
Run it again to resume from work_dir/checkpoint/ (the step counter and the budget continue).
"""

import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from encoders.embedded.config import CodecRecipe, DecoderConfig, load_recipe
from encoders.errors import InputError
from encoders.shared.recipes import to_dict
from encoders.shared.training import STATE_FILE, lr_at, make_optimizer, pick_device, read_checkpoint, write_checkpoint

CHECKPOINT_DIR = "checkpoint"  # work_dir/checkpoint/: model + optimizer (safetensors) + state.json


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


def build_model(model_cfg: DecoderConfig, seed: int, init_from: str, device):
    from encoders.embedded.checkpoint import load_exported
    from encoders.embedded.model import ConceptDecoder

    torch.manual_seed(seed)
    model = ConceptDecoder(model_cfg).to(device)
    if init_from:
        init, _, _ = load_exported(init_from, device=device)
        if init.cfg != model_cfg:
            raise InputError(f"init_from {init_from!r} has config {init.cfg}, the recipe asks for "
                             f"{model_cfg}; make the recipe's model section match or drop init_from")
        model.load_state_dict(init.state_dict())
    return model


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


class Trainer:
    """One run of decoder training, fresh or resumed from work_dir/checkpoint/: built by __init__, advanced by step(),
    reported by log() every log_every steps, saved (checkpoint + export) every checkpoint_minutes and at the end."""

    def __init__(self, recipe: CodecRecipe):
        self.recipe, tc = recipe, recipe.train
        self.device = pick_device(tc.device)
        self.work = Path(tc.work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.tok, self.train_t, self.valid_t, self.lang_ids, model_cfg = prepare(recipe, self.device)
        checkpoint = self.work / CHECKPOINT_DIR
        resuming = tc.resume and (checkpoint / STATE_FILE).is_file()
        if tc.resume and not resuming and (self.work / "checkpoint.pt").is_file():
            raise InputError(f"{self.work / 'checkpoint.pt'} was written by an older version (a pickle, which this one "
                             "does not load); delete it to start over, or set train.resume=false")
        self.model = build_model(model_cfg, tc.seed, "" if resuming else tc.init_from, self.device)
        self.optimizer = make_optimizer(self.model, tc, fused=self.device.type == "cuda")
        self.state = {"step": 0, "elapsed_s": 0.0, "epoch": 0, "batch_in_epoch": 0, "loss": None}
        if resuming:
            self.state = read_checkpoint(checkpoint, self.model, self.optimizer, self.device)
            print(f"resumed from {checkpoint} at step {self.state['step']} "
                  f"({self.state['elapsed_s'] / 60:.1f} min trained)", flush=True)
        print(f"decoder: {self.model.num_params() / 1e6:.1f}M parameters on {self.device}", flush=True)
        self.autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if self.device.type == "cuda" \
            else contextlib.nullcontext
        self.gen = torch.Generator(device=self.device).manual_seed(tc.seed + 1000 * self.state["epoch"])
        self.batches = self._epoch_batches()
        self.budget_s = tc.max_minutes * 60
        self.run_start = self.last_save = self.window_start = time.time()
        self.start_elapsed, self.elapsed = self.state["elapsed_s"], self.state["elapsed_s"]
        self.loss_sum, self.n_steps, self.n_tokens = torch.zeros((), device=self.device), 0, 0
        self.lr, self.record = 0.0, {}
        self.model.train()

    def _epoch_batches(self) -> list:
        from encoders.embedded.data import epoch_batches

        return epoch_batches(self.train_t, self.recipe.train.batch_size, self.gen)

    def done(self) -> bool:
        """Whether the wall-clock budget (summed over resumed runs) or train.max_steps is reached."""
        tc = self.recipe.train
        self.elapsed = self.start_elapsed + time.time() - self.run_start
        return self.elapsed >= self.budget_s or bool(tc.max_steps and self.state["step"] >= tc.max_steps)

    def step(self) -> None:
        """One optimizer step on the next batch; a new epoch is reproducibly shuffled from (seed, epoch)."""
        from encoders.embedded.data import make_batch

        tc, data, state = self.recipe.train, self.recipe.data, self.state
        if state["batch_in_epoch"] >= len(self.batches):
            state["epoch"], state["batch_in_epoch"] = state["epoch"] + 1, 0
            self.gen.manual_seed(tc.seed + 1000 * state["epoch"])
            self.batches = self._epoch_batches()
        targets = self.batches[state["batch_in_epoch"]]
        state["batch_in_epoch"] += 1
        concepts, lang_col, tokens, lengths = make_batch(self.train_t, targets, data.auto_encode_prob, data.noise_max,
                                                         self.gen)
        self.lr = lr_at(state["step"], tc, progress=self.elapsed / self.budget_s)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        with self.autocast():
            loss = self.model.loss(concepts, self.lang_ids[lang_col], tokens, lengths)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        self.optimizer.step()
        state["step"] += 1
        self.loss_sum += loss.detach()
        self.n_steps += 1
        self.n_tokens += tokens.shape[0] * tokens.shape[1]  # padded target tokens (what the GPU computes)

    def valid_loss(self) -> float:
        return round(valid_loss(self.model, self.valid_t, self.lang_ids, self.recipe.train.batch_size, self.autocast), 4)

    def log(self, final: bool) -> None:
        """Print and append one log line for the steps since the last; save when due (always when `final`)."""
        tc, state = self.recipe.train, self.state
        seconds = max(time.time() - self.window_start, 1e-9)
        state["loss"] = round(float(self.loss_sum) / self.n_steps, 4)
        self.record = {"step": state["step"], "epoch": state["epoch"], "loss": state["loss"], "lr": self.lr,
                       "tokens_per_s": round(self.n_tokens / seconds), "minutes": round(self.elapsed / 60, 2)}
        self.loss_sum.zero_()
        self.n_steps, self.n_tokens = 0, 0
        save_due = final or time.time() - self.last_save >= tc.checkpoint_minutes * 60
        if save_due or state["step"] % (tc.log_every * 10) == 0:
            self.record["valid_loss"] = self.valid_loss()
        print(json.dumps(self.record), flush=True)
        with open(self.work / "log.jsonl", "a") as f:
            f.write(json.dumps(self.record) + "\n")
        if save_due:
            self.save()
            self.last_save = time.time()
            print(f"saved checkpoint at step {state['step']}", flush=True)
        self.window_start = time.time()

    def save(self) -> None:
        """The checkpoint (to resume from) and the fp16 export (to decode with), each written atomically."""
        from encoders.embedded.checkpoint import export_weights

        self.state["elapsed_s"] = self.start_elapsed + time.time() - self.run_start
        self.state["saved_step"] = self.state["step"]
        write_checkpoint(self.work / CHECKPOINT_DIR, self.model, self.optimizer, self.state)
        export_weights(self.recipe.train.export_dir, self.model, self.tok, self.recipe.data.langs,
                       {**self.record, "recipe": to_dict(self.recipe)})

    def finish(self) -> dict:
        """Log the last steps and save, unless the last log already saved this step; the last log record."""
        if self.n_steps:
            self.log(final=True)
        if self.state.get("saved_step") != self.state["step"]:
            self.record = {**self.record, "valid_loss": self.valid_loss()}
            self.save()
        return self.record


def train(recipe: CodecRecipe) -> dict:
    """Run (or resume) training until the budget is spent; returns the last log record."""
    run = Trainer(recipe)
    while not run.done():
        run.step()
        if run.state["step"] % recipe.train.log_every == 0:
            run.log(final=False)
    return run.finish()


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
