"""Report figures checked against constructed days whose answers are worked out by hand:
first on plain facts (pure functions), then on a day played through the real API with
the clock moved step by step, read back as JSON, CSV and the printed page."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import assert_error, login
from turnero.admin import charts, reports
from turnero.admin.reports import DeskChange, TicketFact
from turnero.core import clock

LA_PAZ = ZoneInfo("America/La_Paz")
OFFICE = "LPZ-PRINCIPAL"


def at(hhmm: str, day: int = 24) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, h, m, tzinfo=LA_PAZ).astimezone(timezone.utc)


# ---------------------------------------------------------------- a constructed day, pure


def constructed_day() -> tuple[list[TicketFact], list[DeskChange]]:
    tickets = [
        # A, B: CI-RENOV at desk 1 (op1). Waits 10 and 20, service 8 and 6.
        TicketFact("CI-RENOV", "done", at("08:00"), 0, at("08:10"), at("08:12"), at("08:20"), "1", "op1"),
        TicketFact("CI-RENOV", "done", at("08:05"), 0, at("08:25"), at("08:25"), at("08:31"), "1", "op1"),
        # C: CERT, never "started": service counts from the call (4). Wait 5.
        TicketFact("CERT", "done", at("09:00"), 0, at("09:05"), None, at("09:09"), "2", "op2"),
        # D: CERT no-show after a 30-minute wait.
        TicketFact("CERT", "no_show", at("09:30"), 0, at("10:00"), None, at("10:05"), "2", "op2"),
        # E: cancelled without being called.
        TicketFact("CI-RENOV", "cancelled", at("10:15")),
        # F -> G: a CI-RENOV visit transferred to CERT (second hop): waits 5 and 2, service 8.
        TicketFact("CI-RENOV", "transferred", at("08:40"), 0, at("08:45"), None, at("08:47"), "1", None),
        TicketFact("CERT", "done", at("08:50"), 1, at("08:52"), at("08:52"), at("09:00"), "2", "op2"),
    ]
    changes = [
        DeskChange("1", "open", at("07:55")), DeskChange("1", "paused", at("08:32")),
        DeskChange("1", "open", at("08:40")), DeskChange("1", "closed", at("09:00")),
        DeskChange("2", "open", at("08:50")), DeskChange("2", "closed", at("10:30")),
    ]
    return tickets, changes


def test_percentiles_are_nearest_rank():
    assert reports.percentile([], 50) is None
    assert reports.percentile([7], 90) == 7
    values = [30, 2, 5, 10, 20, 5]  # sorted: 2 5 5 10 20 30
    assert reports.percentile(values, 50) == 5  # the 3rd of 6
    assert reports.percentile(values, 90) == 30  # the ceil(5.4) = 6th
    assert reports.percentile(list(range(1, 11)), 90) == 9


def test_the_constructed_day_gives_the_figures_worked_out_by_hand():
    tickets, changes = constructed_day()
    report = reports.build_report(tickets, changes, tz="America/La_Paz", start=at("00:00"), end=at("12:00"))

    assert report["visits"] == 6 and report["tickets"] == 7
    # First steps only, by local hour of issue: G (a second hop) is not a new visit.
    assert report["by_service_and_hour"] == {"CERT": {9: 2}, "CI-RENOV": {8: 3, 10: 1}}
    # Waits 2 5 5 10 20 30: mean 72/6 = 12.
    assert report["wait"]["all"] == {"count": 6, "mean": 12.0, "p50": 5, "p90": 30}
    assert report["wait"]["by_service"]["CI-RENOV"] == {"count": 3, "mean": 11.67, "p50": 10, "p90": 20}
    assert report["wait"]["by_service"]["CERT"] == {"count": 3, "mean": 12.33, "p50": 5, "p90": 30}
    # Service 4 6 8 8: mean 6.5.
    assert report["service_time"]["all"] == {"count": 4, "mean": 6.5, "p50": 6, "p90": 8}
    assert report["outcomes"] == {"done": 4, "no_show": 1, "cancelled": 1, "transferred": 1, "outcomes": 6,
                                  "no_show_rate": 0.1667, "cancellation_rate": 0.1667}
    assert report["operators"] == {
        "op1": {"served": 2, "no_show": 0, "mean_service_minutes": 7.0},
        "op2": {"served": 2, "no_show": 1, "mean_service_minutes": 6.0},
    }
    # Desk 1: open 07:55-08:32 and 08:40-09:00 (57), paused 8, busy A 10 + B 6 + F 2 = 18.
    # Desk 2: open 08:50-10:30 (100), busy G 8 + C 4 + D 5 = 17.
    assert report["desks"] == {
        "1": {"open_minutes": 57.0, "paused_minutes": 8.0, "busy_minutes": 18.0, "idle_minutes": 39.0},
        "2": {"open_minutes": 100.0, "paused_minutes": 0.0, "busy_minutes": 17.0, "idle_minutes": 83.0},
    }


def test_desk_time_is_clipped_to_the_period_and_starts_from_the_known_status():
    # Desk 3 was opened the day before and never closed: open the whole period (12 h).
    result = reports.desk_time([], [], at("00:00"), at("12:00"), initial={"3": "open"})
    assert result["3"]["open_minutes"] == 720.0
    # A pause that began before the period counts only from the period's start.
    result = reports.desk_time([DeskChange("4", "open", at("01:00"))], [], at("00:00"), at("02:00"),
                               initial={"4": "paused"})
    assert result["4"] == {"open_minutes": 60.0, "paused_minutes": 60.0, "busy_minutes": 0.0, "idle_minutes": 60.0}


def test_an_empty_period_has_no_figures_rather_than_zeros():
    report = reports.build_report([], [], tz="America/La_Paz", start=at("00:00"), end=at("12:00"))
    assert report["wait"]["all"] == {"count": 0, "mean": None, "p50": None, "p90": None}
    assert report["outcomes"]["no_show_rate"] is None


def test_csv_tables_carry_the_same_figures():
    tickets, changes = constructed_day()
    report = reports.build_report(tickets, changes, tz="America/La_Paz", start=at("00:00"), end=at("12:00"))
    assert reports.table_rows(report, "by_service_and_hour") == [
        ["tramite", "08:00", "09:00", "10:00", "total"], ["CERT", 0, 2, 0, 2], ["CI-RENOV", 3, 0, 1, 4]]
    assert reports.table_rows(report, "wait")[-1] == ["TODOS", 6, 12.0, 5, 30]
    assert reports.table_rows(report, "operators")[1] == ["op1", 2, 0, 7.0]


def test_bar_chart_is_a_self_contained_svg_with_escaped_labels():
    svg = charts.bar_chart("Turnos <por> hora", ["08", "09", "10"], [3, 0, 12])
    assert svg.startswith("<svg") and svg.endswith("</svg>") and 'role="img"' in svg
    assert "Turnos &lt;por&gt; hora" in svg and "<por>" not in svg
    assert svg.count('class="bar"') == 3
    heights = [float(part.split('"')[0]) for part in svg.split('class="bar"')[1:] for part in [part.split('height="')[1]]]
    assert heights[1] == 0 and heights[2] > heights[0] > 0 and abs(heights[2] / heights[0] - 4) < 0.01
    assert "20" in svg  # the axis reaches a round 20 above the largest bar (12)
    with pytest.raises(ValueError):
        charts.bar_chart("x", ["a"], [1, 2])


# ---------------------------------------------------------------- the same kind of day, through the API


async def test_a_day_played_through_the_api_reports_the_known_figures(client):
    def move(hhmm: str) -> None:
        clock.freeze(at(hhmm))

    move("08:00")
    kiosk, op3, op5, admin = [await login(client, u) for u in ("kiosko", "operador3", "operador5", "admin")]

    async def post(path, headers, **body):
        response = await client.post(path, json=body or None, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    base = f"/api/offices/{OFFICE}"
    await post(f"{base}/tickets", kiosk, service="CI-RENOV")  # T1 08:00
    move("08:05"); await post(f"{base}/tickets", kiosk, service="CERT")  # T2
    move("08:06"); await post(f"{base}/desks/3/open", op3)
    move("08:10"); t1 = await post(f"{base}/desks/3/call-next", op3)  # wait 10
    move("08:12"); await post(f"/api/tickets/{t1['id']}/start", op3)
    move("08:20"); await post(f"/api/tickets/{t1['id']}/finish", op3)  # service 8
    move("08:21"); await post(f"{base}/desks/5/open", op5)
    move("08:25"); t2 = await post(f"{base}/desks/5/call-next", op5)  # wait 20
    await post(f"/api/tickets/{t2['id']}/start", op5)
    move("08:31"); await post(f"/api/tickets/{t2['id']}/finish", op5)  # service 6
    move("08:40"); await post(f"{base}/tickets", kiosk, service="CI-RENOV")  # T3
    move("08:45"); t3 = await post(f"{base}/desks/3/call-next", op3)  # wait 5
    move("08:50"); await post(f"/api/tickets/{t3['id']}/no-show", op3)
    move("09:00"); await post(f"{base}/tickets", kiosk, service="CERT")  # T4, still waiting
    assert (t1["number"], t2["service"], t3["service"]) == ("C-001", "CERT", "CI-RENOV")

    response = await client.get(f"/api/admin/offices/{OFFICE}/report?from=2026-11-24&to=2026-11-24", headers=admin)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["visits"] == 4
    assert report["by_service_and_hour"] == {"CERT": {"8": 1, "9": 1}, "CI-RENOV": {"8": 2}}
    assert report["wait"]["all"] == {"count": 3, "mean": 11.67, "p50": 10, "p90": 20}
    assert report["service_time"]["all"] == {"count": 2, "mean": 7.0, "p50": 6, "p90": 8}
    assert report["outcomes"]["no_show_rate"] == 0.3333 and report["outcomes"]["done"] == 2
    assert report["operators"] == {
        "operador3": {"served": 1, "no_show": 1, "mean_service_minutes": 8.0},
        "operador5": {"served": 1, "no_show": 0, "mean_service_minutes": 6.0},
    }
    # Desk 3 open 08:06 until "now" (09:00) = 54, busy 10 + 5. Desk 5 open 08:21 = 39, busy 6.
    assert report["desks"]["3"] == {"open_minutes": 54.0, "paused_minutes": 0.0, "busy_minutes": 15.0,
                                    "idle_minutes": 39.0}
    assert report["desks"]["5"] == {"open_minutes": 39.0, "paused_minutes": 0.0, "busy_minutes": 6.0,
                                    "idle_minutes": 33.0}

    # The day before and the day after have nothing.
    other = (await client.get(f"/api/admin/offices/{OFFICE}/report?from=2026-11-25", headers=admin)).json()
    assert other["visits"] == 0 and other["wait"]["all"]["count"] == 0

    # CSV export of a table.
    response = await client.get(
        f"/api/admin/offices/{OFFICE}/report.csv?from=2026-11-24&to=2026-11-24&table=operators", headers=admin)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [["operador", "atendidos", "no_se_presentaron", "media_atencion_min"],
                    ["operador3", "1", "1", "8.0"], ["operador5", "1", "0", "6.0"]]

    # The printable page: tables and server-side SVG charts.
    client.cookies.clear()
    assert (await client.post("/login", data={"username": "supervisor", "password": "demo"})).status_code == 303
    page = await client.get(f"/admin/offices/{OFFICE}/report?from=2026-11-24&to=2026-11-24")
    assert page.status_code == 200
    assert page.text.count("<svg") == 2 and '<strong id="visits">4</strong>' in page.text
    assert "operador3" in page.text and "33.3 %" in page.text
    assert (await client.get("/admin/offices/LPZ-ZONA-SUR/report")).status_code == 403


BAD_REPORT_QUERIES = [("from=ayer", "AAAA-MM-DD"), ("from=2026-11-24&to=2026-11-01", "anterior"),
                      ("from=2026-01-01&to=2026-12-31", "como máximo"), ("table=nada", "Tabla desconocida")]


async def test_bad_report_requests_are_422(client):
    admin = await login(client, "admin")  # one database and one sign-in for every case
    for query, words in BAD_REPORT_QUERIES:
        error = assert_error(await client.get(f"/api/admin/offices/{OFFICE}/report.csv?{query}", headers=admin), 422)
        assert words in error["message"], (query, error)


async def test_a_supervisor_cannot_read_another_office_report(client):
    supervisor = await login(client, "supervisor")
    assert_error(await client.get("/api/admin/offices/LPZ-ZONA-SUR/report", headers=supervisor), 403)
    assert (await client.get(f"/api/admin/offices/{OFFICE}/report", headers=supervisor)).status_code == 200


# ---------------------------------------------------------------- citas and the theory exam


def test_citas_fill_and_outcomes():
    slots = [reports.SlotFact("CI-RENOV", 4, 4), reports.SlotFact("CI-RENOV", 4, 2), reports.SlotFact("PASAPORTE", 10, 1)]
    statuses = ["done"] * 3 + ["checked_in", "no_show", "cancelled", "booked"]
    result = reports.citas_fill(slots, statuses)
    assert result["by_service"] == {"CI-RENOV": {"capacity": 8, "booked": 6, "fill_rate": 0.75},
                                    "PASAPORTE": {"capacity": 10, "booked": 1, "fill_rate": 0.1}}
    assert result["all"] == {"capacity": 18, "booked": 7, "fill_rate": 0.3889}
    assert result["no_show_rate"] == 0.2  # 1 of the 5 whose time came (4 attended + 1 absent)
    assert result["cancellation_rate"] == round(1 / 7, 4)


def test_exam_figures_of_the_group_in_the_segip_documents():
    # The Pando evaluation: 84 eligible candidates, 67 attended, 37 failed and 30 passed.
    attempts = [("finished", True)] * 30 + [("finished", False)] * 37 + [("cancelled", None)] * 2
    result = reports.exam_results(84, attempts)
    assert result == {"booked": 84, "attended": 67, "attendance_rate": 0.7976, "scored": 67, "passed": 30,
                      "failed": 37, "pass_rate": 0.4478}
    assert reports.exam_results(0, [])["attendance_rate"] is None


async def test_citas_figures_are_read_from_the_scheduler_tables(client):
    from turnero.core.models import Office, Service
    from turnero.scheduler.models import Appointment, Slot

    office, service = await Office.get(code=OFFICE), await Service.get(code="CI-RENOV")
    day = at("00:00").astimezone(LA_PAZ).date()
    slots = []
    for hhmm, capacity, booked in (("08:00", 4, 4), ("08:30", 4, 1), ("09:00", 4, 0)):
        slots.append(await Slot.create(office=office, service=service, start=at(hhmm), end=at(hhmm) + timedelta(minutes=30),
                                       day=day, capacity=capacity, booked=booked))
    await Slot.create(office=office, service=service, start=at("08:00", day=25), end=at("08:30", day=25),
                      day=day + timedelta(days=1), capacity=4, booked=4)  # another day: not counted
    for i, status in enumerate(["done", "done", "no_show", "cancelled", "booked"]):
        await Appointment.create(
            public_id=f"pub{i:09d}", code=f"C{i:05d}", office=office, service=service, slot=slots[0],
            start=at("08:00"), end=at("08:30"), status=status, document_number=f"123456{i}",
            document_key=f"ci:123456{i}", name="Persona de prueba", created_at=at("07:00"))
    admin = await login(client, "admin")
    report = (await client.get(f"/api/admin/offices/{OFFICE}/report?from=2026-11-24", headers=admin)).json()
    assert report["citas"]["all"] == {"capacity": 12, "booked": 5, "fill_rate": 0.4167}
    assert report["citas"]["no_show_rate"] == round(1 / 3, 4)
    assert report["exam"]["booked"] == 0 and report["exam"]["attendance_rate"] is None
    response = await client.get(f"/api/admin/offices/{OFFICE}/report.csv?from=2026-11-24&table=citas", headers=admin)
    assert response.text.splitlines()[-1] == "TODOS,12,5,0.4167"
