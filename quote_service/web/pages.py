"""Server-rendered pages (placeholder until the form, list and detail pages land)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
