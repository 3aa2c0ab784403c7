"""Step 2 of the pipeline: render the DOCX, convert it to PDF, store it."""
