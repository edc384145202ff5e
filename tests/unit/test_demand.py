"""Target languages follow the room: who wants what, and when a track may go."""

from __future__ import annotations

from interpreter.demand import LanguageDemand, RoomMember, room_languages
from languages import Language

ES, EN, FR, PT_BR = Language("es"), Language("en"), Language("fr"), Language("pt-BR")


def _room(*people: tuple[str, str]) -> list[RoomMember]:
    return [RoomMember(identity, {"language": lang}) for identity, lang in people]


def test_targets_are_what_the_others_want_never_the_speakers_own() -> None:
    d = LanguageDemand(speaker_identity="ana")
    wanted = d.wanted(
        _room(("ana", "es"), ("bob", "en"), ("chloe", "fr"), ("dani", "es")),
        speaker_language=ES,
    )
    assert wanted == {EN, FR}


def test_agents_and_bad_codes_do_not_count_and_codes_are_normalised() -> None:
    d = LanguageDemand(speaker_identity="ana")
    people = [
        RoomMember("translator-bob", {"language": "de"}, is_agent=True),
        RoomMember("eve", {"language": "klingon"}),
        RoomMember("fay", {"language": "pt_br"}),
        RoomMember("gus", {}),
    ]
    assert d.wanted(people, speaker_language=ES) == {PT_BR}


def test_room_languages_are_always_produced() -> None:
    d = LanguageDemand(speaker_identity="ana")
    room = room_languages('{"languages": ["en", "French", "xx"]}')
    assert room == {EN, FR}
    assert d.wanted([], room=room, speaker_language=EN) == {FR}


def test_bad_room_metadata_means_no_room_languages() -> None:
    assert room_languages("") == frozenset()
    assert room_languages("not json") == frozenset()
    assert room_languages('{"languages": "en"}') == frozenset()


def test_new_targets_are_added_at_once_and_dropped_only_after_the_linger() -> None:
    d = LanguageDemand(speaker_identity="ana", linger=5.0)
    change = d.update(frozenset({EN, FR}), now=0.0)
    assert change.added == {EN, FR} and not change.removed
    # fr is no longer wanted: it stays for the linger period
    assert not d.update(frozenset({EN}), now=1.0)
    assert d.targets == {EN, FR}
    assert d.next_deadline() == 6.0
    assert not d.update(frozenset({EN}), now=5.9)
    change = d.update(frozenset({EN}), now=6.0)
    assert change.removed == {FR} and not change.added
    assert d.targets == {EN}
    assert d.next_deadline() is None


def test_a_target_wanted_again_before_the_linger_is_kept() -> None:
    d = LanguageDemand(speaker_identity="ana", linger=5.0)
    d.update(frozenset({EN}), now=0.0)
    d.update(frozenset(), now=1.0)
    assert not d.update(frozenset({EN}), now=3.0)
    assert not d.update(frozenset({EN}), now=20.0)
    assert d.targets == {EN}
