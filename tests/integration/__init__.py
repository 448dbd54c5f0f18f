"""Integration tests: the installed ``mesyx`` CLI and real daemons over real sockets."""
