"""Spanish words for a ticket's priority and status, shown to citizens and operators
(pages, the printed slip, the desk console)."""

from __future__ import annotations

from turnero.queue.models import Priority, TicketStatus

# Spanish words shown to citizens and operators (pages pass them to the JS too).
PRIORITY_ES = {
    Priority.REGULAR.value: "Sin prioridad",
    Priority.SENIOR.value: "Adulto mayor",
    Priority.DISABILITY.value: "Persona con discapacidad",
    Priority.PREGNANT.value: "Mujer embarazada",
    Priority.CHILD.value: "Persona con niño pequeño",
    Priority.CHRONIC.value: "Persona con enfermedad crónica",
    Priority.CUSTODY.value: "Persona privada de libertad (con custodia)",
}
STATUS_ES = {
    TicketStatus.WAITING.value: "En espera",
    TicketStatus.CALLED.value: "Llamado",
    TicketStatus.SERVING.value: "En atención",
    TicketStatus.DONE.value: "Atendido",
    TicketStatus.NO_SHOW.value: "No se presentó",
    TicketStatus.CANCELLED.value: "Cancelado",
    TicketStatus.TRANSFERRED.value: "Transferido",
}
