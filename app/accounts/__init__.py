"""Users: registration, profiles, login (with app.devices for sessions)."""
