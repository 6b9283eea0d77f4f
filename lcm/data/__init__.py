"""Concept data: documents and sentences, parquet shards, the batch loader, corpus preparation, prefetching, and the
real-text corpora from package registries (corpora/)."""
