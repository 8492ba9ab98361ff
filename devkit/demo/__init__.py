"""``make demo``: a local market under a NAV shock with the keeper live
(:mod:`devkit.demo.main`), its scenarios, the bots it starts, what it
observes, and the report it writes."""
