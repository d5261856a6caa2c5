"""A local, protocol-faithful Amazon WorkMail for tests, the demo and `wmtui emulator`."""
