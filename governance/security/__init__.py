"""Keys, secrets and signed addresses: what the engine reads from the environment
(`env`), the secrets of target systems and custom extensions (`secrets`), and the
approval links in emails (`approval_links`). Every layer may use it; it uses no other."""
