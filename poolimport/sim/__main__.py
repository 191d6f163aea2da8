from poolimport.sim.cli import run

raise SystemExit(run())
