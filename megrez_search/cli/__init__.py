"""`megrez-search`, the console command: the top floor, which may import every layer."""
