"""Jobs: a job's life (lifecycle: queue, claim, finish, cancel, retry, stalled sweeps), running one in a
consumer (runner), what the CLI and TUI ask of them (actions), the lists they read (queries), the
rotating file log that mirrors job events (log) and scheduled sync (schedule)."""
