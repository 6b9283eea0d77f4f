"""Quant-LCM heads (LCM paper, section 2.5): predict the next concept's residual-VQ codes coarse to fine.

For codebook k the predictor sees the backbone state (or a learned null state, for CFG), a codebook-index embedding
and the partial reconstruction sum_{j<k} c_j (projected), and outputs
- Quant-LCM-d: logits over the V units of codebook k (cross-entropy on the target's greedy code);
- Quant-LCM-c: the continuous residual r_k = x - sum_{j<k} c_j (MSE, scaled per codebook by its residual energy).
Training is teacher-forced on the target's own codes; all K codebooks are trained in one pass.
"""

import torch
from torch import nn
from torch.nn import functional as F

from encoders.errors import InputError
from quantized_head import sampling
from quantized_head.config import CONTINUOUS_OPTIONS, DISCRETE_OPTIONS, QuantizedHeadConfig, QuantizedSampleConfig
from quantized_head.rvq import ResidualVQ


def parse_sample_options(variant: str, opts: dict) -> QuantizedSampleConfig:
    """User decoding options -> a validated QuantizedSampleConfig (the defaults for anything not given)."""
    allowed = DISCRETE_OPTIONS if variant == "discrete" else CONTINUOUS_OPTIONS
    unknown = set(opts) - set(allowed)
    if unknown:
        raise InputError(f"the quantized head ({variant}) does not take {sorted(unknown)}; "
                         f"its decoding options are {sorted(allowed)}")
    o = QuantizedSampleConfig(**opts)
    for name in ("guidance_scale", "temperature", "beta"):
        if isinstance(getattr(o, name), bool) or not isinstance(getattr(o, name), (int, float)):
            raise InputError(f"{name} must be a number, got {getattr(o, name)!r}")
    if o.top_k is not None and (isinstance(o.top_k, bool) or not isinstance(o.top_k, int) or o.top_k <= 0):
        raise InputError(f"top_k must be a positive integer (or None for no top-k filtering), got {o.top_k!r}")
    if o.guidance_scale < 0:
        raise InputError(f"guidance_scale must be >= 0 (1 = no guidance), got {o.guidance_scale}")
    if o.temperature < 0:
        raise InputError(f"temperature must be >= 0 (0 = greedy), got {o.temperature}")
    if o.beta <= 0:
        raise InputError(f"beta (inverse temperature of p ~ exp(-beta*||c - r||)) must be > 0, got {o.beta}")
    return o


class CodePredictor(nn.Module):
    """f(hidden, codebook index, partial reconstruction) -> features (..., d_head): a residual MLP."""

    def __init__(self, d_model: int, concept_dim: int, num_codebooks: int, d_head: int, num_layers: int, dropout: float):
        super().__init__()
        self.cond = nn.Linear(d_model, d_head)
        self.null_cond = nn.Parameter(torch.zeros(d_head))  # the "no context" state for classifier-free guidance
        self.stage = nn.Embedding(num_codebooks, d_head)
        self.partial = nn.Linear(concept_dim, d_head)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(d_head), nn.Linear(d_head, 4 * d_head), nn.SiLU(), nn.Dropout(dropout),
                          nn.Linear(4 * d_head, d_head))
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_head)

    def forward(self, hidden: torch.Tensor, stage: torch.Tensor, partial: torch.Tensor,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        """hidden (N, d), stage (K',) long, partial (N, K', D), drop (N,) bool or None -> (N, K', d_head)."""
        cond = self.cond(hidden)  # (N, d_head)
        if drop is not None:
            cond = torch.where(drop.unsqueeze(-1), self.null_cond.to(cond.dtype), cond)
        z = cond.unsqueeze(1) + self.stage(stage) + self.partial(partial)  # (N, K', d_head)
        for block in self.blocks:
            z = z + block(z)
        return self.norm(z)


class QuantizedHead(nn.Module):
    """Quant-LCM-d or Quant-LCM-c over a ResidualVQ whose codebooks are fitted in prepare()."""

    def __init__(self, cfg: QuantizedHeadConfig, d_model: int, concept_dim: int):
        super().__init__()
        if cfg.variant not in ("discrete", "continuous"):
            raise InputError(f"quantized.variant must be 'discrete' (Quant-LCM-d) or 'continuous' (Quant-LCM-c), "
                             f"got {cfg.variant!r}")
        if not 0.0 <= cfg.cond_dropout < 1.0:
            raise InputError(f"quantized.cond_dropout must be in [0, 1), got {cfg.cond_dropout}")
        self.cfg, self.concept_dim = cfg, concept_dim
        self.quantizer = ResidualVQ(concept_dim, cfg.num_codebooks, cfg.codebook_size)
        self.predictor = CodePredictor(d_model, concept_dim, cfg.num_codebooks, cfg.hidden_dim, cfg.num_layers,
                                       cfg.dropout)
        K, V = cfg.num_codebooks, cfg.codebook_size
        if cfg.variant == "discrete":
            self.unit_embed = nn.Parameter(torch.randn(K, V, cfg.hidden_dim) * cfg.hidden_dim ** -0.5)  # (K, V, d_head)
            self.unit_bias = nn.Parameter(torch.zeros(K, V))  # (K, V)
        else:
            self.to_residual = nn.Linear(cfg.hidden_dim, concept_dim)

    # ---- protocol ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def prepare(self, concepts: torch.Tensor) -> None:
        """Fit the residual VQ on (N, D) normalized training concepts, unless it is fitted already (or load it)."""
        if bool(self.quantizer.fitted):
            return
        if self.cfg.quantizer_path:
            loaded = ResidualVQ.load(self.cfg.quantizer_path, dim=self.concept_dim)
            if (loaded.num_codebooks, loaded.codebook_size) != (self.cfg.num_codebooks, self.cfg.codebook_size):
                raise InputError(f"quantizer {self.cfg.quantizer_path!r} has {loaded.num_codebooks} x "
                                 f"{loaded.codebook_size} codebooks but the recipe asks for {self.cfg.num_codebooks} x "
                                 f"{self.cfg.codebook_size}; set quantized.num_codebooks/codebook_size to match")
            self.quantizer.load_state_dict(loaded.state_dict())
            return
        if concepts.ndim != 2 or concepts.shape[1] != self.concept_dim:
            raise InputError(f"prepare() needs (N, {self.concept_dim}) concepts, got {tuple(concepts.shape)}; "
                             f"model.concept_dim must equal the codec's dimension")
        cfg = self.cfg
        self.quantizer.fit(concepts.detach(), init=cfg.kmeans_init, epochs=cfg.kmeans_epochs,
                           lloyd_iters=cfg.kmeans_lloyd_iters, batch_size=cfg.kmeans_batch_size, seed=cfg.fit_seed)

    def loss(self, hidden: torch.Tensor, target: torch.Tensor, mask: torch.Tensor):
        """Teacher-forced loss over all codebooks at the valid positions -> (scalar, metrics)."""
        self._check_target(target)
        h, x = hidden[mask], target[mask].float()  # (N, d), (N, D)
        if h.shape[0] == 0:
            return hidden.sum() * 0.0, {}
        with torch.no_grad():
            codes = self.quantizer.encode(x)  # (N, K) greedy codes of the target
            units = self.quantizer.codewords(codes)  # (N, K, D)
            partial = units.cumsum(1) - units  # (N, K, D): sum of the units before codebook k
        drop = None
        if self.training and self.cfg.cond_dropout > 0:
            drop = torch.rand(h.shape[0], device=h.device) < self.cfg.cond_dropout  # (N,)
        stages = torch.arange(self.cfg.num_codebooks, device=h.device)  # (K,)
        z = self.predictor(h, stages, partial.to(h.dtype), drop)  # (N, K, d_head)
        if self.cfg.variant == "discrete":
            logits = torch.einsum("nkd,kvd->nkv", z, self.unit_embed) + self.unit_bias  # (N, K, V)
            loss = F.cross_entropy(logits.float().flatten(0, 1), codes.flatten())
            acc = (logits.argmax(-1) == codes).float()  # (N, K)
            return loss, {"ce": loss.item(), "code_acc": acc.mean().item(), "code_acc_first": acc[:, 0].mean().item(),
                          "exact": acc.all(-1).float().mean().item()}
        residual = x.unsqueeze(1) - partial  # (N, K, D)
        err = (self.to_residual(z).float() - residual).pow(2).sum(-1)  # (N, K)
        # each codebook's error relative to its residual energy; a stage that already reconstructs exactly has ~0 energy
        loss = (err / self.quantizer.residual_sq.clamp_min(1e-6)).mean()
        return loss, {"rel_mse": loss.item(), "mse_first": err[:, 0].mean().item()}

    @torch.no_grad()
    def sample(self, hidden: torch.Tensor, mask: torch.Tensor, *, generator: torch.Generator | None = None, **opts):
        """(B, T, d), (B, T) -> next concept (B, D), normalized. Options: QuantizedSampleConfig's fields (those of
        DISCRETE_OPTIONS or CONTINUOUS_OPTIONS, by variant)."""
        o = parse_sample_options(self.cfg.variant, opts)
        if not mask.any(1).all():
            raise InputError("every row of the context needs at least one valid position (mask all False in a row)")
        self._check_ready()
        index = mask.long().sum(1) - 1  # (B,) rows are right-padded
        h = hidden[torch.arange(hidden.shape[0], device=hidden.device), index]  # (B, d)
        cond_fn, uncond_fn = self._stage_fn(h, drop=False), self._stage_fn(h, drop=True)
        stage_fn = sampling.cfg_fn(cond_fn, uncond_fn, float(o.guidance_scale))
        books = self.quantizer.codebooks
        if self.cfg.variant == "discrete":
            codes = sampling.sample_discrete(stage_fn, books, h.shape[0], temperature=float(o.temperature),
                                             top_k=o.top_k, generator=generator)
        else:
            codes = sampling.sample_continuous(stage_fn, books, h.shape[0], mode=o.mode, beta=float(o.beta),
                                               top_k=o.top_k, generator=generator)
        return self.quantizer.decode(codes).to(hidden.dtype)  # (B, D)

    # ---- internals ---------------------------------------------------------------------------------------------
    def _stage_fn(self, h: torch.Tensor, drop: bool):
        """The per-codebook predictor as fn(stage, partial (B, D)) -> logits (B, V) or residual (B, D)."""
        drop_mask = torch.full((h.shape[0],), drop, dtype=torch.bool, device=h.device)  # (B,)

        def fn(stage: int, partial: torch.Tensor) -> torch.Tensor:
            stages = torch.tensor([stage], device=h.device)  # (1,)
            z = self.predictor(h, stages, partial.unsqueeze(1).to(h.dtype), drop_mask)[:, 0]  # (B, d_head)
            if self.cfg.variant == "discrete":
                return (z @ self.unit_embed[stage].T + self.unit_bias[stage]).float()  # (B, V)
            return self.to_residual(z).float()  # (B, D)

        return fn

    def _check_ready(self) -> None:
        if not bool(self.quantizer.fitted):
            raise InputError("the quantized head's codebooks are not fitted: call head.prepare(concepts) before "
                             "training, or load a checkpoint trained with this head")

    def _check_target(self, target: torch.Tensor) -> None:
        self._check_ready()
        if target.shape[-1] != self.concept_dim:
            raise InputError(f"targets are {target.shape[-1]}-d but the quantized head expects {self.concept_dim}-d "
                             f"concepts; model.concept_dim must equal the codec's dimension")
