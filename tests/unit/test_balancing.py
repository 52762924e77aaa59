"""Desk-move suggestions and office ranking: pure functions with known answers."""

from __future__ import annotations

from datetime import datetime, timezone

from turnero.queue.balancing import (
    DeskAssignment,
    OfficeOption,
    ServiceQueue,
    desk_capacity,
    faster_alternative,
    rank_offices,
    suggest_moves,
)


def q(service: str, waiting: int, wait: int | None, desks: float, minutes: float = 8.0) -> ServiceQueue:
    return ServiceQueue(service, waiting, wait, desks, minutes)


def test_capacity_is_split_among_a_desks_first_services_only():
    capacity = desk_capacity([{1: 1, 2: 2}, {1: 1, 3: 1}, {2: 1}, {}])
    assert capacity == {1: 1.5, 3: 0.5, 2: 1.0}


def test_no_suggestion_while_every_wait_is_under_the_threshold():
    queues = [q("CI", 20, 25, 4), q("SAN", 3, 29, 1, 15)]
    desks = [DeskAssignment(str(n), {"CI": 1}) for n in range(4)] + [DeskAssignment("9", {"SAN": 1})]
    assert suggest_moves(queues, desks, threshold_minutes=30) == []


def test_an_overflowing_line_gets_a_desk_from_the_quietest_line():
    queues = [q("CI", 12, 20, 4), q("CERT", 2, 4, 2, 4), q("SAN", 8, 120, 1, 15)]
    desks = (
        [DeskAssignment(str(n), {"CI": 1, "CERT": 2}) for n in range(1, 5)]
        + [DeskAssignment("5", {"CERT": 1}), DeskAssignment("6", {"CERT": 1})]
        + [DeskAssignment("9", {"SAN": 1})]
    )
    moves = suggest_moves(queues, desks, threshold_minutes=30, max_moves=1)
    assert len(moves) == 1
    move = moves[0]
    # Taking a CERT desk: SAN 120 -> 60, CERT 4 -> 8; taking a CI desk would make CI 26.
    assert (move.desk, move.from_services, move.to_service) == ("5", ("CERT",), "SAN")
    assert (move.wait_before, move.wait_after, move.from_wait_before, move.from_wait_after) == (120, 60, 4, 8)
    assert "Mover la ventanilla 5 de CERT a SAN" in move.as_dict()["message"]


def test_moves_repeat_until_the_line_is_under_the_threshold_and_each_desk_moves_once():
    queues = [q("CI", 0, 0, 5), q("SAN", 10, 150, 1, 15)]
    desks = [DeskAssignment(str(n), {"CI": 1}) for n in range(1, 6)] + [DeskAssignment("9", {"SAN": 1})]
    moves = suggest_moves(queues, desks, threshold_minutes=30, max_moves=10)
    # 150 -> 75 -> 50 -> 37.5 -> 30 (no longer above the threshold)
    assert [m.wait_after for m in moves] == [75, 50, 38, 30]
    assert len({m.desk for m in moves}) == 4 and all(m.to_service == "SAN" for m in moves)


def test_the_last_desk_of_a_line_with_people_waiting_is_never_taken():
    queues = [q("CIE", 1, 12, 1, 12), q("SAN", 10, 150, 1, 15)]
    desks = [DeskAssignment("8", {"CIE": 1}), DeskAssignment("9", {"SAN": 1})]
    assert suggest_moves(queues, desks, threshold_minutes=30) == []
    # With nobody waiting there it may go (it keeps the old line as a fallback).
    quiet = [q("CIE", 0, 0, 1, 12), q("SAN", 10, 150, 1, 15)]
    [move] = suggest_moves(quiet, desks, threshold_minutes=30)
    assert move.desk == "8" and move.from_wait_after is None


def test_a_move_that_would_only_shift_the_queue_is_not_suggested():
    queues = [q("A", 20, 45, 2), q("B", 20, 40, 2)]
    desks = [DeskAssignment("1", {"A": 1}), DeskAssignment("2", {"A": 1}),
             DeskAssignment("3", {"B": 1}), DeskAssignment("4", {"B": 1})]
    # Moving a B desk: A 45 -> 30 but B 40 -> 80: worse overall.
    assert suggest_moves(queues, desks, threshold_minutes=30) == []


def test_a_line_with_no_first_desk_gets_one():
    queues = [q("CI", 0, 0, 3), q("CERT", 10, 60, 0, 4)]  # served only as a fallback now
    desks = [DeskAssignment(str(n), {"CI": 1, "CERT": 2}) for n in range(1, 4)]
    [move, *_] = suggest_moves(queues, desks, threshold_minutes=30)
    # 40 desk minutes waited 60 min: the fallback desks give it 2/3 of a desk; one more
    # first desk makes 5/3: 40 / (5/3) = 24 min.
    assert move.to_service == "CERT" and move.wait_after == 24


def test_a_desk_about_to_leave_for_its_planned_pause_is_moved_only_when_no_other_would_do():
    queues = [q("CERT", 2, 4, 2, 4), q("SAN", 8, 120, 1, 15)]

    def desks(pause5: float | None, pause6: float | None) -> list[DeskAssignment]:
        return [DeskAssignment("5", {"CERT": 1}, pause5, "refrigerio 10:00–10:15"),
                DeskAssignment("6", {"CERT": 1}, pause6, "almuerzo 12:30–13:15"),
                DeskAssignment("9", {"SAN": 1})]

    # Both CERT desks would do as well: the one not leaving goes, whichever it is.
    assert [m.desk for m in suggest_moves(queues, desks(None, None), threshold_minutes=30)] == ["5"]
    [move] = suggest_moves(queues, desks(10, None), threshold_minutes=30)
    assert move.desk == "6" and move.leaves_for is None and "Ojo" not in move.as_dict()["message"]
    [move] = suggest_moves(queues, desks(-3, 150), threshold_minutes=30)  # 5's pause is due: still there
    assert move.desk == "6"
    # A pause far off does not count against a desk.
    assert [m.desk for m in suggest_moves(queues, desks(45, None), threshold_minutes=30)] == ["5"]
    # Only leaving desks would do: the best of them, and the suggestion says why to mind it.
    [move] = suggest_moves(queues, desks(10, 20), threshold_minutes=30)
    assert move.desk == "5" and move.leaves_for == "refrigerio 10:00–10:15"
    assert move.as_dict()["leaves_for"] == "refrigerio 10:00–10:15"
    assert move.as_dict()["message"].endswith("120 → 60 min. Ojo: tiene planificado su refrigerio 10:00–10:15.")


# ---------------------------------------------------------------- offices


def opt(code: str, wait: int | None, waiting: int = 0, desks: int = 1, cita: datetime | None = None) -> OfficeOption:
    return OfficeOption(code, code.title(), wait, waiting, desks, cita)


def test_offices_rank_by_wait_then_by_next_appointment_and_open_desks_first():
    early = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    late = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    options = [
        opt("a", 40, 20), opt("b", 10, 5), opt("c", 10, 3, cita=late), opt("d", 10, 9, cita=early),
        opt("e", 0, 0, desks=0), opt("f", None, 0),
    ]
    assert [o.office for o in rank_offices(options)] == ["d", "c", "b", "a", "f", "e"]


def test_a_tie_keeps_the_citizen_where_they_are():
    options = [opt("a", 10, 4), opt("b", 10, 4)]
    assert [o.office for o in rank_offices(options, current="b")] == ["b", "a"]


def test_the_kiosk_proposes_another_office_only_when_it_saves_real_time():
    options = [opt("here", 60, 30), opt("near", 35, 10), opt("closed", 0, 0, desks=0)]
    assert faster_alternative(options, "here").office == "near"
    assert faster_alternative(options, "here", min_saving_minutes=30) is None
    assert faster_alternative([opt("here", 30, 10), opt("near", 0)], "here") is None  # not a long wait
    assert faster_alternative([opt("here", 60), opt("other", 50)], "here") is None


def test_a_desk_is_not_taken_from_a_line_of_many_to_shorten_a_line_of_few():
    desks = [DeskAssignment(str(n), {"CI": 1}) for n in range(10)] + [DeskAssignment("9s", {"SAN": 1})]
    # One more SAN desk: 3 people wait 22.5 min less; one fewer CI desk: 35 → 38.9 min.
    crowded = [q("CI", 100, 35, 10), q("SAN", 3, 45, 1, 15)]
    assert suggest_moves(crowded, desks, threshold_minutes=30) == []  # 100 × 3.9 > 3 × 22.5
    quiet = [q("CI", 5, 35, 10), q("SAN", 3, 45, 1, 15)]
    [move] = suggest_moves(quiet, desks, threshold_minutes=30)[:1]
    assert move.to_service == "SAN" and move.wait_after == 22  # 5 × 3.9 < 3 × 22.5
