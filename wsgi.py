"""The WSGI entry point: `gunicorn wsgi:app`."""

from quote_service.app import create_app

app = create_app()
