"""Per-room terminology: load and validate glossaries, enforce them in translation."""
