"""Which languages a human interpreter covers: mutes, coughs, releases, hand-overs, leaving."""

from __future__ import annotations

import itertools

import pytest

from interpreter.takeover import MUTE_GRACE, RELEASE_GRACE, Seat, Takeover, TakeoverChange
from languages import Language

EN, ES = Language("en"), Language("es")
T0 = 100.0


def seat(
    identity: str = "ivy",
    live: Language | None = EN,
    *,
    published: bool = True,
    muted: bool = False,
) -> Seat:
    return Seat(identity, identity.title(), live, published, muted)


def causes(change: TakeoverChange) -> dict[str, list[tuple[Language, str]]]:
    return {
        "covered": [(c.language, c.cause) for c in change.covered],
        "uncovered": [(c.language, c.cause) for c in change.uncovered],
    }


def test_a_live_unmuted_interpreter_covers_their_language_at_once() -> None:
    t = Takeover()
    assert not t.update([seat(live=None)], now=T0)
    change = t.update([seat()], now=T0 + 1)
    assert t.covered == {EN}
    assert causes(change) == {"covered": [(EN, "live")], "uncovered": []}
    (covered,) = change.covered
    assert covered.identity == "ivy" and covered.since == T0 + 1
    assert not t.update([seat()], now=T0 + 2)  # nothing new: no change
    assert t.next_deadline() is None


def test_a_cough_shorter_than_the_grace_changes_nothing() -> None:
    t = Takeover()
    t.update([seat()], now=T0)
    assert not t.update([seat(muted=True)], now=T0 + 1)
    assert t.next_deadline() == T0 + 1 + MUTE_GRACE
    assert not t.update([seat(muted=True)], now=T0 + 3.9)  # muted 2.9 s
    assert not t.update([seat()], now=T0 + 3.9)  # unmuted: still covered, never uncovered
    assert t.covered == {EN}
    assert t.next_deadline() is None


def test_a_mute_of_the_full_grace_uncovers_since_the_mute_began() -> None:
    t = Takeover()
    t.update([seat()], now=T0)
    t.update([seat(muted=True)], now=T0 + 1)
    assert not t.update([seat(muted=True)], now=T0 + 1 + MUTE_GRACE - 0.001)
    change = t.update([seat(muted=True)], now=T0 + 1 + MUTE_GRACE)  # muted 3.0 s
    assert t.covered == frozenset()
    (uncovered,) = change.uncovered
    assert (uncovered.language, uncovered.cause) == (EN, "muted")
    assert uncovered.since == T0 + 1  # the human went quiet when the mute began
    assert uncovered.deadline == T0 + 1 + MUTE_GRACE
    assert t.next_deadline() is None  # nothing pending once the grace is over
    # unmuting covers again at once
    change = t.update([seat()], now=T0 + 10)
    assert causes(change) == {"covered": [(EN, "unmuted")], "uncovered": []}


def test_the_grace_is_configurable() -> None:
    t = Takeover(grace=1.0)
    t.update([seat()], now=T0)
    t.update([seat(muted=True)], now=T0)
    assert t.update([seat(muted=True)], now=T0 + 1.0).uncovered


def test_a_seat_first_seen_muted_does_not_cover_until_it_unmutes() -> None:
    t = Takeover()
    assert not t.update([seat(muted=True)], now=T0)
    assert t.covered == frozenset()
    assert t.next_deadline() is None
    change = t.update([seat()], now=T0 + 5)
    assert causes(change) == {"covered": [(EN, "unmuted")], "uncovered": []}


def test_a_seat_without_a_track_covers_when_it_publishes() -> None:
    t = Takeover()
    assert not t.update([seat(published=False)], now=T0)
    change = t.update([seat()], now=T0 + 1)
    assert causes(change) == {"covered": [(EN, "published")], "uncovered": []}


def test_unpublishing_uncovers_at_once() -> None:
    t = Takeover()
    t.update([seat()], now=T0)
    change = t.update([seat(published=False)], now=T0 + 2)
    assert causes(change) == {"covered": [], "uncovered": [(EN, "unpublished")]}
    assert change.uncovered[0].since == T0 + 2
    assert change.uncovered[0].deadline is None  # the room event made it due


def test_unpublishing_during_a_mute_stopped_the_voice_when_the_mute_began() -> None:
    t = Takeover()
    t.update([seat()], now=T0)
    t.update([seat(muted=True)], now=T0 + 1)
    (uncovered,) = t.update([seat(published=False)], now=T0 + 2).uncovered
    assert (uncovered.cause, uncovered.since) == ("unpublished", T0 + 1)
    # republished muted: not heard yet, so not covering
    assert not t.update([seat(muted=True)], now=T0 + 3)


def test_leaving_the_room_uncovers_at_once() -> None:
    t = Takeover()
    t.update([seat()], now=T0)
    change = t.update([], now=T0 + 2)
    assert causes(change) == {"covered": [], "uncovered": [(EN, "left")]}
    assert change.uncovered[0].since == T0 + 2
    assert t.next_deadline() is None


def test_a_release_uncovers_after_the_release_grace() -> None:
    t = Takeover()
    t.update([seat()], now=T0)
    assert not t.update([seat(live=None)], now=T0 + 1)
    assert t.covered == {EN}
    assert t.next_deadline() == T0 + 1 + RELEASE_GRACE
    change = t.update([seat(live=None)], now=T0 + 1 + RELEASE_GRACE)
    assert causes(change) == {"covered": [], "uncovered": [(EN, "released")]}
    assert change.uncovered[0].since == T0 + 1
    assert change.uncovered[0].deadline == T0 + 1 + RELEASE_GRACE
    assert t.next_deadline() is None


def test_a_release_while_muted_counts_from_the_mute() -> None:
    t = Takeover()
    t.update([seat()], now=T0)
    t.update([seat(muted=True)], now=T0 + 1)
    assert not t.update([seat(live=None, muted=True)], now=T0 + 2)
    (uncovered,) = t.update([seat(live=None, muted=True)], now=T0 + 2 + RELEASE_GRACE).uncovered
    assert (uncovered.cause, uncovered.since) == ("released", T0 + 1)


def test_a_release_without_grace_uncovers_on_the_room_event() -> None:
    t = Takeover(release_grace=0.0)
    t.update([seat()], now=T0)
    (uncovered,) = t.update([seat(live=None)], now=T0 + 1).uncovered
    assert (uncovered.cause, uncovered.deadline) == ("released", None)


def test_a_direction_switch_covers_the_new_language_and_releases_the_old() -> None:
    t = Takeover()
    t.update([seat(live=ES)], now=T0)
    change = t.update([seat(live=EN)], now=T0 + 1)
    assert causes(change) == {"covered": [(EN, "live")], "uncovered": []}
    assert t.covered == {EN, ES}  # the old one for the release grace
    change = t.update([seat(live=EN)], now=T0 + 1 + RELEASE_GRACE)
    assert causes(change) == {"covered": [], "uncovered": [(ES, "released")]}
    assert t.covered == {EN}


def test_one_interpreter_per_language_each_covering_their_own() -> None:
    t = Takeover()
    t.update([seat("ivy", EN), seat("ugo", ES)], now=T0)
    assert t.covered == {EN, ES}
    change = t.update([seat("ivy", EN), seat("ugo", ES, muted=True)], now=T0 + 1)
    assert not change
    change = t.update([seat("ivy", EN), seat("ugo", ES, muted=True)], now=T0 + 1 + MUTE_GRACE)
    assert causes(change) == {"covered": [], "uncovered": [(ES, "muted")]}
    assert t.covered == {EN}


A_LIVE = seat("ana")
A_MUTED = seat("ana", muted=True)  # the web app server-mutes the old holder
A_CLEARED = seat("ana", live=None, muted=True)
B_LIVE = seat("bea")
B_WAITING = seat("bea", live=None)


@pytest.mark.parametrize(
    "steps",
    [
        # the web app's order: the new holder first, then mute and clear the old one
        [[A_LIVE, B_LIVE], [A_MUTED, B_LIVE], [A_CLEARED, B_LIVE]],
        # both attribute updates seen in one look at the room
        [[A_CLEARED, B_LIVE]],
        # the old holder's clearing seen first
        [[A_MUTED, B_WAITING], [A_CLEARED, B_WAITING], [A_CLEARED, B_LIVE]],
        [[seat("ana", live=None), B_WAITING], [seat("ana", live=None), B_LIVE]],
    ],
)
def test_a_hand_over_never_leaves_the_language_uncovered(steps: list[list[Seat]]) -> None:
    t = Takeover()
    t.update([A_LIVE, B_WAITING], now=T0)
    now = T0
    for room in steps:
        now += 0.1  # each update a tenth of a second after the previous one
        change = t.update(room, now=now)
        assert not change.uncovered and not change.covered
        assert t.covered == {EN}
    # long after: still covered, by Bea alone, and nothing pending
    change = t.update(steps[-1], now=now + 10)
    assert not change and t.covered == {EN}
    assert t.next_deadline() is None
    # Bea leaves: uncovered at once, with her as the last voice
    (uncovered,) = t.update([A_CLEARED], now=now + 11).uncovered
    assert (uncovered.identity, uncovered.cause) == ("bea", "left")


def test_two_live_seats_on_one_language_uncover_when_the_last_voice_stops() -> None:
    # the booth never allows it, but the room may show it for a moment: the later stop wins
    t = Takeover()
    t.update([seat("ana"), seat("bea")], now=T0)
    t.update([seat("ana", muted=True), seat("bea")], now=T0 + 1)
    assert not t.update([seat("ana", muted=True), seat("bea", muted=True)], now=T0 + 2)
    change = t.update([seat("ana", muted=True), seat("bea", muted=True)], now=T0 + 2 + MUTE_GRACE)
    (uncovered,) = change.uncovered
    assert (uncovered.identity, uncovered.since) == ("bea", T0 + 2)


def test_the_next_deadline_is_the_earliest_pending_grace() -> None:
    t = Takeover(grace=3.0, release_grace=0.5)
    t.update([seat("ivy", EN), seat("ugo", ES)], now=T0)
    t.update([seat("ivy", EN, muted=True), seat("ugo", ES)], now=T0 + 1)
    t.update([seat("ivy", EN, muted=True), seat("ugo", None)], now=T0 + 2)
    assert t.next_deadline() == T0 + 2.5
    t.update([seat("ivy", EN, muted=True), seat("ugo", None)], now=T0 + 2.5)
    assert t.next_deadline() == T0 + 4.0


def test_every_short_sequence_of_room_states_covers_exactly_when_a_human_is_heard() -> None:
    # each step a full grace after the previous one: a seat covers when it is live, published
    # and unmuted, or when its mute began at this very step after it was heard unmuted
    states = [
        seat(live=live, published=pub, muted=muted)
        for live in (EN, None)
        for pub in (True, False)
        for muted in (True, False)
    ]
    for sequence in itertools.product(states, repeat=4):
        t = Takeover(release_grace=0.0)
        heard = False
        for n, s in enumerate(sequence):
            t.update([s], now=T0 + n * MUTE_GRACE)
            voicing = s.live == EN and s.published
            expected = voicing and (not s.muted or heard)
            assert (EN in t.covered) == expected, sequence[: n + 1]
            heard = voicing and not s.muted


def test_negative_graces_are_refused() -> None:
    with pytest.raises(ValueError):
        Takeover(grace=-1)
