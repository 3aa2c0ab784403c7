"""Step 3 of the pipeline: email the stored PDF and track the delivery."""
