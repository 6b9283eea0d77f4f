"""Inference: batched next-concept generation with a KV cache (parallel plan diffusion lives in diffusion_head.plan)."""
