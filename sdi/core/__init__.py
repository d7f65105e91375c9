"""The shared core: settings, errors, the config models, the database, the catalogue and its roles.

Everything else builds on it; it imports nothing from the loader, the server or the CLI.
"""
