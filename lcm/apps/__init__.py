"""Applications built on encode -> LCM -> decode: summarization, story planning, infilling and interpolation."""
