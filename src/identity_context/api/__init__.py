"""gRPC edge: servicers, interceptors and the mapping of errors to rich status."""
