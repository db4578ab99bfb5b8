"""The registry database: models, sessions, migrations and the errors users see."""
