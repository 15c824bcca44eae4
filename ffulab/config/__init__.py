"""Lab configuration: layers, merge, schema, cross-layer checks, the service catalog."""
