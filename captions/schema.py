"""The transcript database's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

``meetings`` is one row per LiveKit room session; ``segments`` what each speaker said, in the
language they said it, with the recogniser that heard it; ``translations`` the text of a
segment in another language, with the engine that produced it; ``translation_terms`` the
glossary terms a translation had to contain, and whether it did.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["meetings", "metadata", "segments", "translation_terms", "translations"]

metadata = sa.MetaData()

meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("room_sid", sa.String, nullable=False, unique=True),
    sa.Column("room_name", sa.String, nullable=False),
    sa.Column("started_at", sa.Double, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Index("ix_meetings_room_name", "room_name"),
)

segments = sa.Table(
    "segments",
    metadata,
    sa.Column(
        "meeting_id",
        sa.Integer,
        sa.ForeignKey("meetings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("segment_id", sa.String, primary_key=True),
    sa.Column("speaker_identity", sa.String, nullable=False),
    sa.Column("speaker_name", sa.String, nullable=False),
    sa.Column("language", sa.String(35), nullable=False),
    sa.Column("wall_start", sa.Double, nullable=False),
    sa.Column("wall_end", sa.Double, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("interpreter", sa.Boolean, nullable=False, default=False),
    # the recogniser that heard it (the STT provider: "embedded", "assemblyai", ...); added
    # after the first release, so existing databases get it from create_tables
    sa.Column("engine", sa.String, nullable=False, server_default=""),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Index("ix_segments_meeting_start", "meeting_id", "wall_start"),
)

translations = sa.Table(
    "translations",
    metadata,
    sa.Column("meeting_id", sa.Integer, primary_key=True),
    sa.Column("segment_id", sa.String, primary_key=True),
    sa.Column("language", sa.String(35), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("engine", sa.String, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.ForeignKeyConstraint(
        ["meeting_id", "segment_id"],
        ["segments.meeting_id", "segments.segment_id"],
        ondelete="CASCADE",
    ),
    sa.Index("ix_translations_meeting_language", "meeting_id", "language"),
)

translation_terms = sa.Table(
    "translation_terms",
    metadata,
    sa.Column("meeting_id", sa.Integer, primary_key=True),
    sa.Column("segment_id", sa.String, primary_key=True),
    sa.Column("language", sa.String(35), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("found", sa.Boolean, nullable=False),
    sa.ForeignKeyConstraint(
        ["meeting_id", "segment_id", "language"],
        ["translations.meeting_id", "translations.segment_id", "translations.language"],
        ondelete="CASCADE",
    ),
)
