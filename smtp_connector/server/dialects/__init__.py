"""Dialect routers: each speaks one seed's API (paths, names, envelope, auth form) over the
same domain layer. One module per dialect; see README.md for how to write one."""
