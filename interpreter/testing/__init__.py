"""What tests and benches share: fakes of our interfaces, a real LiveKit server on loopback,
room clients, and audio helpers. Shipped with the code (like livekit-agents' test fakes) so the
unit tests, the integration tests and ``bench/`` use one copy."""
