"""Per-room terminology (reserved: nothing here yet).

The glossary issue fills this package: loading and validating glossary files, enforcing terms
in translation, biasing recognition, measuring term accuracy. Like ``languages`` and
``captions`` it will be a leaf: it may import ``languages`` and nothing else of ours.
"""
