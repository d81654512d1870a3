"""Re-checks by hash: fetch a URL, stream its body through hash functions, decide, forget."""
