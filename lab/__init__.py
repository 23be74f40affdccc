"""Lab and test tooling: the vSphere simulator build, local Azure endpoints, synthetic source VMs.

Product code never imports this package (import-linter enforces it); only the lab CLI does, lazily.
"""
