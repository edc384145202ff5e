"""Latency, throughput and quality benchmarks; each writes JSON into bench/results/."""
