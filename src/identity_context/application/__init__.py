"""Use cases and the ports (typing.Protocol) they depend on; imports the domain only."""
