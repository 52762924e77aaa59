"""Administration: offices, services, desks, users and devices, with an audit log."""
