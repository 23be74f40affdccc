"""failback-controller and failbackctl: inventory, jobs, the agents' CA, and the vCenter and Azure adapters."""
