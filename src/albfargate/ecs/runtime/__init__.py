"""Task drivers behind one Protocol: process (default) and docker."""
