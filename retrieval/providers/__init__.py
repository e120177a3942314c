"""Search providers: one small class per backend, all speaking `SearchResult`."""
