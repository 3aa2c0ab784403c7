"""What the benchmarks share: the service run as in production, the BullMQ stack it is compared
with, and the statistics they print."""
