"""Entry points: the command line, the server launcher and demo data (may import engine and webui)."""
