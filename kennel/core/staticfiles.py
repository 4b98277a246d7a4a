"""The shop's CSS, scripts and icons under names that carry a hash of their content.

`collectstatic` (the Dockerfile, `make run`, the systemd unit) writes each file twice — under
its own name and under a hashed one (`site.3f2a9c1b7e4d.css`) — and a manifest
of the two; `{% static %}` then names the hashed file. WhiteNoise serves a hashed name with a
far-future `Cache-Control: …, immutable` (a new image's CSS has a new name, so nothing is ever
held back by a browser's cache) and any other name for WHITENOISE_MAX_AGE (60 s).

Without a manifest entry (static never collected, or a file added since), a file is named as
it is, not refused: a page never fails over a stylesheet, it is only cached for less long.
(The test suite names every file as it is: its live server serves the source files.)
"""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage


class HashedStaticFilesStorage(ManifestStaticFilesStorage):
    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:  # "Missing staticfiles manifest entry"
            return name
