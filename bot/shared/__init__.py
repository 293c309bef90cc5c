"""State that must agree across bot instances (`bot.shared.state`): embedded for one
host, Redis (`bot.shared.redis_state`) for many."""
