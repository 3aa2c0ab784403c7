"""The WSGI entry point for any WSGI server (`quote-service serve` runs the app with granian)."""

from quote_service.app import create_app

app = create_app()
