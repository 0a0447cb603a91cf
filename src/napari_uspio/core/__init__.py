"""The computing core: no Qt, no viewer."""
