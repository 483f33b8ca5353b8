"""Fixture app for the catalogue's baggage-read scan; read as text, never imported."""
