"""Events out: the relay, webhook subscriptions and deliveries, and the live stream."""
