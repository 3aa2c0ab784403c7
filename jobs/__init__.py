"""The worker side: `procrastinate --app=jobs.app worker` finds the App as `jobs.app`."""

from jobs.application import app

__all__ = ["app"]
