"""Driving-theory exam room (SEGELIC): rooms and seats, question bank, attempts,
proctor check-in and seat assignment, the seat kiosk page and the room board.

An exam session is a scheduler slot whose places are the seats in service, and a place
is a cita booked with `POST /api/appointments` (booking.py is the bridge); this package
takes over at the proctor's check-in (`checkin.check_in`)."""
