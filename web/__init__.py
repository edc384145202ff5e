"""The web app: token service, static client, transcript downloads."""
