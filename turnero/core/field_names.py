"""Spanish names of the fields the API accepts and the audit log records, for messages
and pages (a validation error says «zona horaria», not `timezone`). A key not listed is
shown as it is."""

from __future__ import annotations

FIELD_NAMES_ES = {
    # offices
    "code": "código",
    "name": "nombre",
    "institution": "institución",
    "department": "departamento",
    "city": "ciudad",
    "address": "dirección",
    "timezone": "zona horaria",
    "opening_hours": "horario de atención",
    "hours": "horario",
    "services": "trámites",
    "active": "activo",
    # services
    "prefix": "prefijo",
    "walk_in": "atención sin cita",
    "bookable": "con cita previa",
    "kind": "tipo",
    "requirements": "requisitos",
    "steps": "pasos",
    "expected_service_minutes": "minutos de atención esperados",
    # desks and users
    "desk": "ventanilla",
    "desks": "ventanillas",
    "username": "usuario",
    "password": "contraseña",
    "role": "rol",
    "office": "oficina",
    "offices": "oficinas",
    "full_name": "nombre completo",
    "users": "usuarios",
    # tickets and citas
    "service": "trámite",
    "priority": "prioridad",
    "party_size": "personas",
    "members": "menores",
    "phone": "teléfono",
    "document": "documento",
    "complement": "complemento",
    "issued_in": "expedido en",
    "presented_document": "documento presentado",
    "reason": "motivo",
    "date": "fecha",
    "start": "inicio",
    "end": "fin",
    "starts_at": "hora de inicio",
    "ticket": "turno",
    "booking": "cita",
    "number": "número",
    "capacity": "cupos",
    "slot_minutes": "minutos por cupo",
    "window_days": "días de anticipación",
    "min_notice_minutes": "aviso mínimo (minutos)",
    "release_time": "hora de apertura de reservas",
    "cancel_cutoff_minutes": "plazo para cancelar (minutos)",
    "threshold_minutes": "umbral (minutos)",
    "take_over": "tomar el control",
    # exam
    "seat": "asiento",
    "seats": "asientos",
    "question": "pregunta",
    "questions": "preguntas",
    "answers": "respuestas",
    "choice": "opción",
    "choices": "opciones",
    "category": "categoría",
    "text": "texto",
    "pass_percent": "porcentaje de aprobación",
}


def field_name_es(key: str) -> str:
    return FIELD_NAMES_ES.get(key, key)
