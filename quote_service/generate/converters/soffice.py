"""Cold conversion: one `soffice --convert-to pdf` process per document.

Slow (LibreOffice starts for every document) but with no state to go stale, so it is the
fallback when a warm pool cannot run. Each run gets its own profile directory: parallel
soffice processes sharing a profile fail silently. Each run leads its own process group, so a
timeout kills `oosplash` and `soffice.bin` along with the script we started.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from quote_service.config import Settings
from quote_service.generate.converter import ConversionError, ConversionTimeout
from quote_service.generate.converters.process_group import kill_group

PDF_FILTER = "pdf:writer_pdf_Export"
STDERR_TAIL = 2000


class SofficeConverter:
    """Converter that starts a private LibreOffice for each document."""

    name = "soffice"

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        soffice_path: str = "soffice",
        grace: float = 3.0,
        work_dir: Path | None = None,
    ) -> None:
        self.timeout = timeout
        self.soffice_path = soffice_path
        self.grace = grace
        self.work_dir = work_dir

    @classmethod
    def from_settings(cls, settings: Settings) -> SofficeConverter:
        return cls(timeout=settings.convert_timeout, soffice_path=settings.soffice_path)

    def convert(self, docx: bytes, *, timeout: float | None = None) -> bytes:
        """Return the PDF of `docx`; raise ConversionTimeout past `timeout` seconds."""
        limit = self.timeout if timeout is None else timeout
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="soffice-", dir=self.work_dir) as tmp:
            folder = Path(tmp)
            source = folder / "quotation.docx"
            source.write_bytes(docx)
            command = [
                self.soffice_path,
                "--headless",
                "--norestore",
                "--nologo",
                "--nodefault",
                "--nofirststartwizard",
                f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                "--convert-to",
                PDF_FILTER,
                "--outdir",
                str(folder / "out"),
                str(source),
            ]
            stderr = self._run(command, folder, limit)
            pdf = folder / "out" / "quotation.pdf"
            if not pdf.is_file():
                raise ConversionError(f"soffice produced no PDF: {stderr}")
            return pdf.read_bytes()

    def _run(self, command: list[str], cwd: Path, limit: float) -> str:
        """Run soffice in a new process group; return its stderr tail."""
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env={**os.environ, "TMPDIR": str(cwd)},  # LibreOffice's lu*.tmp folders
            )
        except OSError as exc:
            raise ConversionError(f"cannot start {self.soffice_path}: {exc}") from exc
        try:
            _out, err = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            kill_group(process.pid, self.grace)
            process.communicate()
            raise ConversionTimeout(
                f"soffice did not finish within {limit:g} s; its process group was killed"
            ) from None
        finally:
            # A normal exit leaves nothing behind; this is for the paths that did not get there.
            kill_group(process.pid, self.grace)
        stderr = err.decode(errors="replace").strip()[-STDERR_TAIL:]
        if process.returncode != 0:
            raise ConversionError(f"soffice exited with status {process.returncode}: {stderr}")
        return stderr

    def close(self) -> None:
        """Nothing outlives a conversion."""
