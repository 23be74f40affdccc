"""failback-agent: one program, two roles (master target on-premises, process server in Azure)."""
