"""Turning files, folders, URLs and JSONL into stored, chunked, embedded articles."""
