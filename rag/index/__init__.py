"""Building, storing and loading the hybrid (FAISS + BM25) index."""
