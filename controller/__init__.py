"""failback-controller and failbackctl: the CA, the inventory and state, and the failback workflows."""
