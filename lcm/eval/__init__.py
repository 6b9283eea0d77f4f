"""Evaluation: next-sentence metrics (l2, CA, PAR), summarization metrics, and cross-lingual zero-shot tables."""
