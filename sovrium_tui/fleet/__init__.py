"""Many databases: a targets file, a selection of it (`--only`, `--shard`), and use cases run on each target.

Every target is reached through the services layer, one connection and one transaction per plan, so a fleet
keeps every guarantee a single database has; this package only decides which, when and how many at once.
"""
