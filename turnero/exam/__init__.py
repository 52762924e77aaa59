"""Driving-theory exam room (SEGELIC): rooms and seats, question bank, attempts,
proctor check-in and seat assignment, the seat kiosk page and the room board.

Booking an exam place goes through the scheduler (citas) engine; this package takes
over at check-in (`service.assign_seat_for_booking`)."""
