"""Helpers every stage uses, one copy each: atomic I/O and hashing, seeding, token truncation, the
cached sentence encoder, fine-tuning support and model folders."""
